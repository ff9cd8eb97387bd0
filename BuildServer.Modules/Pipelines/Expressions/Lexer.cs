using System.Text;
using System.Text.RegularExpressions;

namespace BuildServer.Modules.Pipelines.Expressions;

internal enum TokenKind
{
    End,
    Identifier, // a context, function, property name, or one of true/false/null/NaN/Infinity
    Number,
    String,
    Dot,
    Wildcard,
    Comma,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Not,
    Equal,
    NotEqual,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
    And,
    Or,
}

/// <param name="FollowedByParen">For identifiers: the next non-blank character is <c>(</c>, so it names a function.</param>
internal readonly record struct Token(TokenKind Kind, int Offset, int Length, string Text, double Number = 0, bool FollowedByParen = false)
{
    public int End => Offset + Length;
}

/// <summary>Splits <c>source[start..end)</c> into tokens on demand; offsets are positions in <c>source</c>.</summary>
internal sealed partial class Lexer(string source, int start, int end)
{
    private int _index = start;
    private TokenKind? _last;

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_-]*$")]
    private static partial Regex Keyword();

    public Token Next()
    {
        while (_index < end && char.IsWhiteSpace(source[_index])) _index++;
        if (_index >= end) return new Token(TokenKind.End, end, 0, "");
        var token = Read(source[_index]);
        _index = token.End;
        _last = token.Kind;
        return token;
    }

    private Token Read(char c) => c switch
    {
        '(' => Punctuation(TokenKind.LParen, 1),
        ')' => Punctuation(TokenKind.RParen, 1),
        '[' => Punctuation(TokenKind.LBracket, 1),
        ']' => Punctuation(TokenKind.RBracket, 1),
        ',' => Punctuation(TokenKind.Comma, 1),
        '*' => Punctuation(TokenKind.Wildcard, 1),
        '\'' => ReadString(),
        '.' when !NumberMayStart() => Punctuation(TokenKind.Dot, 1),
        '.' or '-' or '+' or (>= '0' and <= '9') => ReadNumber(),
        '!' => Peek(1) == '=' ? Punctuation(TokenKind.NotEqual, 2) : Punctuation(TokenKind.Not, 1),
        '<' => Peek(1) == '=' ? Punctuation(TokenKind.LessEqual, 2) : Punctuation(TokenKind.Less, 1),
        '>' => Peek(1) == '=' ? Punctuation(TokenKind.GreaterEqual, 2) : Punctuation(TokenKind.Greater, 1),
        '=' when Peek(1) == '=' => Punctuation(TokenKind.Equal, 2),
        '&' when Peek(1) == '&' => Punctuation(TokenKind.And, 2),
        '|' when Peek(1) == '|' => Punctuation(TokenKind.Or, 2),
        '=' or '&' or '|' => throw Unexpected(_index, 1, "Unexpected symbol: '{0}'. Use ==, && or ||."),
        '"' => throw Unexpected(_index, WordLength(_index + 1) + 1, "Unexpected symbol: '{0}'. Strings use single quotes."),
        _ => ReadKeyword(),
    };

    private char Peek(int ahead) => _index + ahead < end ? source[_index + ahead] : '\0';

    private Token Punctuation(TokenKind kind, int length) => new(kind, _index, length, source.Substring(_index, length));

    // As in GitHub: after an operand "." dereferences; elsewhere it starts a number such as .5
    private bool NumberMayStart() => _last is null or TokenKind.Comma or TokenKind.LParen or TokenKind.LBracket
        or TokenKind.Not or TokenKind.Equal or TokenKind.NotEqual or TokenKind.Less or TokenKind.LessEqual
        or TokenKind.Greater or TokenKind.GreaterEqual or TokenKind.And or TokenKind.Or;

    private static bool IsBoundary(char c) =>
        c is '(' or '[' or ')' or ']' or ',' or '.' or '!' or '>' or '<' or '=' or '&' or '|' || char.IsWhiteSpace(c);

    private int WordLength(int from)
    {
        var i = from;
        while (i < end && !IsBoundary(source[i])) i++;
        return i - from;
    }

    private Token ReadNumber()
    {
        var i = _index + 1;
        while (i < end && (!IsBoundary(source[i]) || source[i] == '.')) i++;
        var text = source[_index..i];
        var number = Coercion.ParseNumber(text);
        if (double.IsNaN(number)) throw Unexpected(_index, i - _index, "Unexpected symbol: '{0}'.");
        return new Token(TokenKind.Number, _index, i - _index, text, number);
    }

    private Token ReadKeyword()
    {
        var length = Math.Max(1, WordLength(_index));
        var text = source.Substring(_index, length);
        if (!Keyword().IsMatch(text)) throw Unexpected(_index, length, "Unexpected symbol: '{0}'.");
        var next = _index + length;
        while (next < end && char.IsWhiteSpace(source[next])) next++;
        return new Token(TokenKind.Identifier, _index, length, text, FollowedByParen: next < end && source[next] == '(');
    }

    private Token ReadString()
    {
        var value = new StringBuilder();
        for (var i = _index + 1; i < end; i++)
        {
            if (source[i] != '\'')
            {
                value.Append(source[i]);
            }
            else if (i + 1 < end && source[i + 1] == '\'')
            {
                value.Append('\'');
                i++;
            }
            else
            {
                return new Token(TokenKind.String, _index, i + 1 - _index, value.ToString());
            }
        }
        throw ExpressionException.At(_index, end - _index, "Unterminated string: a ' has no closing '. Write '' for a quote inside a string.");
    }

    private ExpressionException Unexpected(int offset, int length, string format) =>
        ExpressionException.At(offset, length, string.Format(System.Globalization.CultureInfo.InvariantCulture, format, source.Substring(offset, length)));
}
