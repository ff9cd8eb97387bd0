namespace BuildServer.Modules.Pipelines.Expressions;

/// <summary>An expression tree node; <see cref="Offset"/> and <see cref="Length"/> locate it in the parsed text.</summary>
internal abstract class Node(int offset, int length, int depth)
{
    public int Offset { get; } = offset;

    public int Length { get; } = length;

    /// <summary>The height of the tree below and including this node, which GitHub caps at 50.</summary>
    public int Depth { get; } = depth;

    public abstract IEnumerable<Node> Children { get; }

    protected static int Span(Node first, Node last) => last.Offset + last.Length - first.Offset;
}

internal sealed class LiteralNode(Token token, Value value) : Node(token.Offset, token.Length, 1)
{
    public Value Value { get; } = value;

    public override IEnumerable<Node> Children => [];
}

internal sealed class ContextNode(Token token) : Node(token.Offset, token.Length, 1)
{
    public string Name { get; } = token.Text;

    public override IEnumerable<Node> Children => [];
}

/// <summary><c>a.b</c>, <c>a['b']</c>, <c>a[0]</c>; a null <see cref="Key"/> is the object filter <c>*</c>.</summary>
internal sealed class IndexNode(Node target, Node? key, int end)
    : Node(target.Offset, end - target.Offset, 1 + Math.Max(target.Depth, key?.Depth ?? 0))
{
    public Node Target { get; } = target;

    public Node? Key { get; } = key;

    public override IEnumerable<Node> Children => Key is null ? [Target] : [Target, Key];
}

internal sealed class NotNode(Token bang, Node operand) : Node(bang.Offset, operand.Offset + operand.Length - bang.Offset, operand.Depth + 1)
{
    public Node Operand { get; } = operand;

    public override IEnumerable<Node> Children => [Operand];
}

/// <summary>== != &lt; &lt;= &gt; &gt;=</summary>
internal sealed class CompareNode(TokenKind op, Node left, Node right)
    : Node(left.Offset, Span(left, right), 1 + Math.Max(left.Depth, right.Depth))
{
    public TokenKind Operator { get; } = op;

    public Node Left { get; } = left;

    public Node Right { get; } = right;

    public override IEnumerable<Node> Children => [Left, Right];
}

/// <summary>A chain of && (or of ||), flattened as GitHub does, so long chains don't count towards the depth.</summary>
internal sealed class LogicalNode(bool isAnd, IReadOnlyList<Node> operands)
    : Node(operands[0].Offset, Span(operands[0], operands[^1]), 1 + operands.Max(o => o.Depth))
{
    public bool IsAnd { get; } = isAnd;

    public IReadOnlyList<Node> Operands { get; } = operands;

    public override IEnumerable<Node> Children => Operands;
}

internal sealed class CallNode(Token name, FunctionInfo function, IReadOnlyList<Node> arguments, int end)
    : Node(name.Offset, end - name.Offset, 1 + (arguments.Count == 0 ? 0 : arguments.Max(a => a.Depth)))
{
    public FunctionInfo Function { get; } = function;

    public IReadOnlyList<Node> Arguments { get; } = arguments;

    public override IEnumerable<Node> Children => Arguments;
}

/// <summary>A template with text around its expressions, used as a condition: evaluates to the interpolated string.</summary>
internal sealed class InterpolationNode(ExpressionTemplate template)
    : Node(0, template.Text.Length, 1 + template.Expressions.DefaultIfEmpty().Max(e => e?.Depth ?? 0))
{
    public ExpressionTemplate Template { get; } = template;

    public override IEnumerable<Node> Children => Template.Expressions;
}
