using System.Text;

namespace BuildServer.Modules.Pipelines.Expressions;

internal enum Builtin
{
    Contains,
    StartsWith,
    EndsWith,
    Format,
    Join,
    ToJson,
    FromJson,
    HashFiles,
    Success,
    Always,
    Cancelled,
    Failure,
}

internal sealed record FunctionInfo(string Name, Builtin Builtin, int MinArguments, int MaxArguments)
{
    public bool IsStatus => Builtin is Builtin.Success or Builtin.Always or Builtin.Cancelled or Builtin.Failure;
}

/// <summary>The built-in functions. Names are case-insensitive; arity is checked when parsing.</summary>
internal static class Functions
{
    private static readonly Dictionary<string, FunctionInfo> ByName = new FunctionInfo[]
    {
        new("contains", Builtin.Contains, 2, 2),
        new("startsWith", Builtin.StartsWith, 2, 2),
        new("endsWith", Builtin.EndsWith, 2, 2),
        new("format", Builtin.Format, 1, byte.MaxValue),
        new("join", Builtin.Join, 1, 2),
        new("toJSON", Builtin.ToJson, 1, 1),
        new("fromJSON", Builtin.FromJson, 1, 1),
        new("hashFiles", Builtin.HashFiles, 1, byte.MaxValue),
        new("success", Builtin.Success, 0, 0),
        new("always", Builtin.Always, 0, 0),
        new("cancelled", Builtin.Cancelled, 0, 0),
        new("failure", Builtin.Failure, 0, 0),
    }.ToDictionary(f => f.Name, StringComparer.OrdinalIgnoreCase);

    public static FunctionInfo Success { get; } = ByName["success"];

    public static bool TryGet(string name, out FunctionInfo info) => ByName.TryGetValue(name, out info!);

    public static Value Invoke(Evaluator evaluator, CallNode call)
    {
        var args = call.Arguments;
        switch (call.Function.Builtin)
        {
            case Builtin.Contains:
                return Value.FromBoolean(Contains(evaluator.Evaluate(args[0]), evaluator.Evaluate(args[1])));
            case Builtin.StartsWith:
            case Builtin.EndsWith:
                var text = evaluator.Evaluate(args[0]);
                var part = evaluator.Evaluate(args[1]);
                if (!text.IsPrimitive || !part.IsPrimitive) return Value.False;
                var (whole, affix) = (Coercion.ToDisplayString(text), Coercion.ToDisplayString(part));
                return Value.FromBoolean(call.Function.Builtin == Builtin.StartsWith
                    ? whole.StartsWith(affix, StringComparison.OrdinalIgnoreCase)
                    : whole.EndsWith(affix, StringComparison.OrdinalIgnoreCase));
            case Builtin.Format:
                return Value.FromString(Format(evaluator, call));
            case Builtin.Join:
                return Value.FromString(Join(evaluator, call));
            case Builtin.ToJson:
                return Value.FromString(Json.Write(evaluator.Evaluate(args[0])));
            case Builtin.FromJson:
                return Json.Parse(Coercion.ToDisplayString(evaluator.Evaluate(args[0])));
            case Builtin.HashFiles:
                var patterns = args.Select(a => Coercion.ToDisplayString(evaluator.Evaluate(a))).ToList();
                return Value.FromString(HashFiles.Compute(evaluator.Context.WorkspaceRoot, patterns));
            case Builtin.Always:
                return Value.True;
            default:
                var status = evaluator.Context.Status
                    ?? throw new ExpressionException($"{call.Function.Name}() is not available: no job status was given to the evaluation.");
                return Value.FromBoolean(call.Function.Builtin switch
                {
                    Builtin.Success => status.Success,
                    Builtin.Failure => status.Failure,
                    _ => status.Cancelled,
                });
        }
    }

    /// <summary>A case-insensitive substring test for primitives; for arrays, whether an item loosely equals the value.</summary>
    private static bool Contains(Value search, Value item)
    {
        if (search.IsPrimitive)
        {
            return item.IsPrimitive && Coercion.ToDisplayString(search)
                .Contains(Coercion.ToDisplayString(item), StringComparison.OrdinalIgnoreCase);
        }
        return search.Kind == ValueKind.Array && search.Items().Any(candidate => Coercion.LooseEquals(candidate, item));
    }

    private static string Join(Evaluator evaluator, CallNode call)
    {
        var items = evaluator.Evaluate(call.Arguments[0]);
        if (items.IsPrimitive) return Coercion.ToDisplayString(items);
        if (items.Kind != ValueKind.Array) return "";
        var separator = ",";
        if (call.Arguments.Count > 1 && evaluator.Evaluate(call.Arguments[1]) is { IsPrimitive: true } given)
        {
            separator = Coercion.ToDisplayString(given);
        }
        var result = new StringBuilder();
        var first = true;
        foreach (var item in items.Items())
        {
            if (!first) AppendBounded(result, separator, "join");
            AppendBounded(result, Coercion.ToDisplayString(item), "join");
            first = false;
        }
        return result.ToString();
    }

    /// <summary>
    /// <c>{N}</c> inserts argument N (0-based, after the format string); <c>{{</c> and <c>}}</c> are literal braces.
    /// Arguments are evaluated once, and only if referenced.
    /// </summary>
    private static string Format(Evaluator evaluator, CallNode call)
    {
        var format = Coercion.ToDisplayString(evaluator.Evaluate(call.Arguments[0]));
        var values = new string?[call.Arguments.Count - 1];
        var result = new StringBuilder();
        for (var i = 0; i < format.Length; i++)
        {
            var c = format[i];
            if ((c == '{' || c == '}') && i + 1 < format.Length && format[i + 1] == c)
            {
                AppendBounded(result, c.ToString(), "format");
                i++;
                continue;
            }
            if (c == '}') throw InvalidFormat(format);
            if (c != '{')
            {
                AppendBounded(result, c.ToString(), "format");
                continue;
            }
            var close = format.IndexOf('}', i + 1);
            if (close < 0 || close == i + 1 || format.AsSpan(i + 1, close - i - 1).ContainsAnyExcept(Digits)
                || !byte.TryParse(format.AsSpan(i + 1, close - i - 1), out var index))
            {
                throw InvalidFormat(format);
            }
            if (index >= values.Length)
            {
                throw new ExpressionException(
                    $"format: the format string references {{{index}}} but only {values.Length} argument(s) were given: '{format}'.");
            }
            values[index] ??= Coercion.ToDisplayString(evaluator.Evaluate(call.Arguments[index + 1]));
            AppendBounded(result, values[index]!, "format");
            i = close;
        }
        return result.ToString();
    }

    private static readonly System.Buffers.SearchValues<char> Digits = System.Buffers.SearchValues.Create("0123456789");

    private static ExpressionException InvalidFormat(string format) =>
        new($"format: the format string is invalid: '{format}'. Use {{0}}, {{1}}... for arguments and {{{{ or }}}} for literal braces.");

    internal static void AppendBounded(StringBuilder builder, string text, string what)
    {
        if (builder.Length + text.Length > Limits.MaxStringLength)
        {
            throw new ExpressionException($"{what}: the result is longer than {Limits.MaxStringLength} characters.");
        }
        builder.Append(text);
    }
}
