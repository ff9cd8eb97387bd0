namespace BuildServer.Modules.Pipelines.Expressions;

/// <summary>
/// Walks a parsed tree. Recursion is bounded by the parser's depth cap; failures are <see cref="ExpressionException"/>s
/// located at the innermost node that failed.
/// </summary>
internal sealed class Evaluator(EvaluationContext context)
{
    private int _filtered;

    public EvaluationContext Context { get; } = context;

    /// <summary>Evaluates the root and converts the result, locating conversion failures (toJSON limits...) at the root.</summary>
    public T Run<T>(Node root, Func<Value, T> convert)
    {
        var value = Evaluate(root);
        try
        {
            return convert(value);
        }
        catch (ExpressionException e) when (!e.IsLocated)
        {
            throw new ExpressionException(new ExpressionError(e.Message, root.Offset, root.Length));
        }
    }

    public Value Evaluate(Node node)
    {
        try
        {
            return node switch
            {
                LiteralNode literal => literal.Value,
                ContextNode named => Context.TryGetContext(named.Name, out var root) ? Value.FromNode(root) : Value.Null,
                IndexNode index => Index(index),
                NotNode not => Value.FromBoolean(!Coercion.IsTruthy(Evaluate(not.Operand))),
                CompareNode compare => Value.FromBoolean(Compare(compare)),
                LogicalNode logical => Logical(logical),
                CallNode call => Functions.Invoke(this, call),
                InterpolationNode interpolation => Value.FromString(interpolation.Template.Render(this)),
                _ => throw new InvalidOperationException($"Unknown node {node.GetType().Name}."),
            };
        }
        catch (ExpressionException e) when (!e.IsLocated)
        {
            throw new ExpressionException(new ExpressionError(e.Message, node.Offset, node.Length));
        }
    }

    /// <summary>&& yields the first falsy operand (or the last); || the first truthy one (or the last). The rest is not evaluated.</summary>
    private Value Logical(LogicalNode node)
    {
        var value = Value.Null;
        foreach (var operand in node.Operands)
        {
            value = Evaluate(operand);
            if (Coercion.IsTruthy(value) != node.IsAnd) return value;
        }
        return value;
    }

    private bool Compare(CompareNode node)
    {
        var left = Evaluate(node.Left);
        var right = Evaluate(node.Right);
        return node.Operator switch
        {
            TokenKind.Equal => Coercion.LooseEquals(left, right),
            TokenKind.NotEqual => !Coercion.LooseEquals(left, right),
            TokenKind.Less => Coercion.Compare(left, right) < 0,
            TokenKind.Greater => Coercion.Compare(left, right) > 0,
            TokenKind.LessEqual => Coercion.LooseEquals(left, right) || Coercion.Compare(left, right) < 0,
            _ => Coercion.LooseEquals(left, right) || Coercion.Compare(left, right) > 0,
        };
    }

    private Value Index(IndexNode node)
    {
        var target = Evaluate(node.Target);
        if (node.Key is null)
        {
            // The object filter: a filtered array flattens one more level; anything else yields its items (or nothing).
            var items = new List<Value>();
            if (target.IsFiltered)
            {
                foreach (var item in target.Items().Where(i => i.Kind is ValueKind.Array or ValueKind.Object))
                {
                    foreach (var nested in item.Items()) Collect(items, nested);
                }
            }
            else
            {
                foreach (var item in target.Items()) Collect(items, item);
            }
            return Value.FromFiltered(items);
        }
        if (target.Kind is not (ValueKind.Array or ValueKind.Object)) return Value.Null;
        var key = Evaluate(node.Key);
        if (!target.IsFiltered) return Lookup(target, key, out var found) ? found : Value.Null;
        var results = new List<Value>();
        foreach (var item in target.Items())
        {
            if (Lookup(item, key, out var value)) Collect(results, value);
        }
        return Value.FromFiltered(results);
    }

    /// <summary>Objects take the key as a string (case-insensitive); arrays as a number, floored, null when out of range.</summary>
    private static bool Lookup(Value target, Value key, out Value result)
    {
        result = Value.Null;
        if (target.Kind == ValueKind.Object)
        {
            return key.IsPrimitive && target.TryGetProperty(Coercion.ToDisplayString(key), out result);
        }
        if (target.Kind != ValueKind.Array) return false;
        var number = Math.Floor(Coercion.ToNumber(key));
        if (double.IsNaN(number) || number < 0 || number >= target.Count) return false;
        result = target.ItemAt((int)number);
        return true;
    }

    private void Collect(List<Value> items, Value item)
    {
        if (++_filtered > Limits.MaxFilterItems)
        {
            throw new ExpressionException($"The object filters in this expression collect more than {Limits.MaxFilterItems} items.");
        }
        items.Add(item);
    }
}
