namespace BuildServer.Modules.Pipelines.Expressions;

/// <summary>
/// Recursive descent over GitHub's grammar, loosest first: <c>||</c>, <c>&&</c>, <c>== !=</c>, <c>&lt; &lt;= &gt; &gt;=</c>,
/// <c>!</c>, then property, index and filter (<c>a.b a[0] a.*</c>) on contexts, calls and groups. Only brackets
/// recurse, and they are capped, so no input can exhaust the stack.
/// </summary>
internal sealed class Parser
{
    private static readonly HashSet<string> LiteralKeywords = ["true", "false", "null", "NaN", "Infinity"];

    private readonly Lexer _lexer;
    private readonly ExpressionParseOptions _options;
    private Token _current;
    private int _nesting;

    private Parser(string source, int start, int end, ExpressionParseOptions options)
    {
        _lexer = new Lexer(source, start, end);
        _options = options;
        _current = _lexer.Next();
    }

    /// <summary>Parses <c>source[start..end)</c>; error offsets are positions in <paramref name="source"/>.</summary>
    public static Node Parse(string source, int start, int end, ExpressionParseOptions options)
    {
        if (end - start > Limits.MaxExpressionLength)
        {
            throw ExpressionException.At(start, end - start,
                $"The expression is {end - start} characters long; the limit is {Limits.MaxExpressionLength}.");
        }
        var parser = new Parser(source, start, end, options);
        if (parser._current.Kind == TokenKind.End) throw ExpressionException.At(start, end - start, "An expression was expected.");
        var node = parser.ParseLogical(isAnd: false);
        if (parser._current.Kind != TokenKind.End) throw Unexpected(parser._current);
        return node;
    }

    private void Advance() => _current = _lexer.Next();

    private Token Expect(TokenKind kind)
    {
        if (_current.Kind != kind) throw Unexpected(_current);
        var token = _current;
        Advance();
        return token;
    }

    private static ExpressionException Unexpected(Token token) => token.Kind == TokenKind.End
        ? ExpressionException.At(token.Offset, 0, "Unexpected end of expression.")
        : ExpressionException.At(token.Offset, token.Length, $"Unexpected symbol: '{token.Text}'.");

    private static T Checked<T>(T node) where T : Node => node.Depth <= Limits.MaxDepth
        ? node
        : throw ExpressionException.At(node.Offset, node.Length, $"The expression nests deeper than {Limits.MaxDepth} levels.");

    private void Enter(Token bracket)
    {
        if (++_nesting > Limits.MaxDepth)
        {
            throw ExpressionException.At(bracket.Offset, bracket.Length, $"The expression nests deeper than {Limits.MaxDepth} levels.");
        }
    }

    private Node ParseLogical(bool isAnd)
    {
        var op = isAnd ? TokenKind.And : TokenKind.Or;
        var first = isAnd ? ParseComparison(equality: true) : ParseLogical(isAnd: true);
        if (_current.Kind != op) return first;
        var operands = new List<Node>();
        var next = first;
        while (true)
        {
            // (a && b) && c is one chain, as in GitHub
            if (next is LogicalNode nested && nested.IsAnd == isAnd) operands.AddRange(nested.Operands);
            else operands.Add(next);
            if (_current.Kind != op) return Checked(new LogicalNode(isAnd, operands));
            Advance();
            next = isAnd ? ParseComparison(equality: true) : ParseLogical(isAnd: true);
        }
    }

    private Node ParseComparison(bool equality)
    {
        var left = equality ? ParseComparison(equality: false) : ParseUnary();
        while (equality
            ? _current.Kind is TokenKind.Equal or TokenKind.NotEqual
            : _current.Kind is TokenKind.Less or TokenKind.LessEqual or TokenKind.Greater or TokenKind.GreaterEqual)
        {
            var op = _current.Kind;
            Advance();
            left = Checked(new CompareNode(op, left, equality ? ParseComparison(equality: false) : ParseUnary()));
        }
        return left;
    }

    private Node ParseUnary()
    {
        var bangs = new Stack<Token>();
        while (_current.Kind == TokenKind.Not)
        {
            bangs.Push(_current);
            Advance();
        }
        var node = ParsePostfix();
        while (bangs.Count > 0) node = Checked(new NotNode(bangs.Pop(), node));
        return node;
    }

    private Node ParsePostfix()
    {
        var (node, indexable) = ParsePrimary();
        while (indexable)
        {
            if (_current.Kind == TokenKind.Dot)
            {
                Advance();
                var name = _current;
                if (name.Kind is not (TokenKind.Identifier or TokenKind.Wildcard)) throw Unexpected(name);
                Advance();
                var key = name.Kind == TokenKind.Wildcard ? null : new LiteralNode(name, Value.FromString(name.Text));
                node = Checked(new IndexNode(node, key, name.End));
            }
            else if (_current.Kind == TokenKind.LBracket)
            {
                Enter(_current);
                Advance();
                Node? key = null;
                if (_current.Kind == TokenKind.Wildcard) Advance();
                else key = ParseLogical(isAnd: false);
                var close = Expect(TokenKind.RBracket);
                _nesting--;
                node = Checked(new IndexNode(node, key, close.End));
            }
            else
            {
                break;
            }
        }
        return node;
    }

    /// <returns>The operand, and whether <c>.</c> and <c>[</c> may follow it (not after a literal, as in GitHub).</returns>
    private (Node Node, bool Indexable) ParsePrimary()
    {
        var token = _current;
        switch (token.Kind)
        {
            case TokenKind.Number:
                Advance();
                return (new LiteralNode(token, Value.FromNumber(token.Number)), false);
            case TokenKind.String:
                Advance();
                return (new LiteralNode(token, Value.FromString(token.Text)), false);
            case TokenKind.LParen:
                Enter(token);
                Advance();
                var inner = ParseLogical(isAnd: false);
                Expect(TokenKind.RParen);
                _nesting--;
                return (inner, true);
            case TokenKind.Identifier when LiteralKeywords.Contains(token.Text):
                Advance();
                return (new LiteralNode(token, Literal(token.Text)), false);
            case TokenKind.Identifier when token.FollowedByParen:
                return (ParseCall(), true);
            case TokenKind.Identifier:
                if (!_options.AllowedContexts.Contains(token.Text))
                {
                    var available = _options.AllowedContexts.Count == 0 ? "none" : string.Join(", ", _options.AllowedContexts.Order(StringComparer.Ordinal));
                    throw ExpressionException.At(token.Offset, token.Length, $"Unrecognized named-value: '{token.Text}'. Contexts available here: {available}.");
                }
                Advance();
                return (new ContextNode(token), true);
            default:
                throw Unexpected(token);
        }
    }

    private static Value Literal(string keyword) => keyword switch
    {
        "true" => Value.True,
        "false" => Value.False,
        "null" => Value.Null,
        "NaN" => Value.FromNumber(double.NaN),
        _ => Value.FromNumber(double.PositiveInfinity),
    };

    private CallNode ParseCall()
    {
        var name = _current;
        if (!Functions.TryGet(name.Text, out var function))
        {
            throw ExpressionException.At(name.Offset, name.Length, $"Unrecognized function: '{name.Text}'.");
        }
        if (!_options.AllowedFunctions.Contains(function.Name))
        {
            throw ExpressionException.At(name.Offset, name.Length, $"The function '{function.Name}' is not available here.");
        }
        Advance();
        Enter(_current);
        Expect(TokenKind.LParen);
        var arguments = new List<Node>();
        if (_current.Kind != TokenKind.RParen)
        {
            arguments.Add(ParseLogical(isAnd: false));
            while (_current.Kind == TokenKind.Comma)
            {
                Advance();
                arguments.Add(ParseLogical(isAnd: false));
            }
        }
        var close = Expect(TokenKind.RParen);
        _nesting--;
        var count = arguments.Count;
        if (count < function.MinArguments || count > function.MaxArguments)
        {
            var expected = function.MinArguments == function.MaxArguments
                ? $"{function.MinArguments}"
                : $"{function.MinArguments} to {function.MaxArguments}";
            throw ExpressionException.At(name.Offset, close.End - name.Offset,
                $"{(count < function.MinArguments ? "Too few" : "Too many")} arguments for '{function.Name}': it takes {expected}, {count} given.");
        }
        return Checked(new CallNode(name, function, arguments, close.End));
    }
}
