using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace BuildServer.Modules.Pipelines.Expressions;

/// <summary>toJSON and fromJSON, bounded in depth and size.</summary>
internal static class Json
{
    private static readonly JsonDocumentOptions ReadOptions = new()
    {
        MaxDepth = Limits.MaxJsonDepth,
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    private static readonly JsonNodeOptions NodeOptions = new() { PropertyNameCaseInsensitive = true };

    /// <summary>Pretty-printed as GitHub does: two-space indent, <c>"key": value</c>, empty containers as <c>[]</c>/<c>{}</c>.</summary>
    public static string Write(Value value)
    {
        var builder = new StringBuilder();
        Write(builder, value, 0);
        return builder.ToString();
    }

    private static void Write(StringBuilder builder, Value value, int depth)
    {
        if (builder.Length > Limits.MaxStringLength)
        {
            throw new ExpressionException($"toJSON: the result is longer than {Limits.MaxStringLength} characters.");
        }
        switch (value.Kind)
        {
            case ValueKind.Null:
                builder.Append("null");
                return;
            case ValueKind.Boolean:
                builder.Append(value.AsBoolean ? "true" : "false");
                return;
            case ValueKind.Number:
                AppendNumber(builder, value.AsNumber);
                return;
            case ValueKind.String:
                AppendString(builder, value.AsString);
                return;
        }
        if (depth >= Limits.MaxJsonDepth)
        {
            throw new ExpressionException($"toJSON: the value nests deeper than {Limits.MaxJsonDepth} levels.");
        }
        var isObject = value.Kind == ValueKind.Object;
        if (value.Count == 0)
        {
            builder.Append(isObject ? "{}" : "[]");
            return;
        }
        builder.Append(isObject ? '{' : '[');
        var first = true;
        var items = isObject ? value.Properties() : value.Items().Select(item => new KeyValuePair<string, Value>("", item));
        foreach (var (key, item) in items)
        {
            builder.Append(first ? "\n" : ",\n").Append(' ', (depth + 1) * 2);
            first = false;
            if (isObject)
            {
                AppendString(builder, key);
                builder.Append(": ");
            }
            Write(builder, item, depth + 1);
        }
        builder.Append('\n').Append(' ', depth * 2).Append(isObject ? '}' : ']');
    }

    private static void AppendNumber(StringBuilder builder, double number)
    {
        if (double.IsNaN(number) || double.IsInfinity(number))
        {
            AppendString(builder, Coercion.FormatNumber(number)); // not representable in JSON; written as a string
        }
        else if (number == Math.Floor(number) && Math.Abs(number) < 9.2e18)
        {
            builder.Append(((long)number).ToString(CultureInfo.InvariantCulture));
        }
        else
        {
            builder.Append(number.ToString("R", CultureInfo.InvariantCulture));
        }
    }

    private static void AppendString(StringBuilder builder, string text)
    {
        builder.Append('"');
        foreach (var c in text)
        {
            switch (c)
            {
                case '"': builder.Append("\\\""); break;
                case '\\': builder.Append("\\\\"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                case '\b': builder.Append("\\b"); break;
                case '\f': builder.Append("\\f"); break;
                case < ' ' or '\u0085' or '\u2028' or '\u2029':
                    builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    break;
                default: builder.Append(c); break;
            }
        }
        builder.Append('"');
    }

    public static Value Parse(string json)
    {
        if (json.Length > Limits.MaxStringLength)
        {
            throw new ExpressionException($"fromJSON: the input is longer than {Limits.MaxStringLength} characters.");
        }
        try
        {
            using var document = JsonDocument.Parse(json, ReadOptions);
            return Value.FromNode(ToNode(document.RootElement));
        }
        catch (JsonException e)
        {
            throw new ExpressionException($"fromJSON: the input is not valid JSON: {e.Message}", e);
        }
    }

    // Recursion is bounded by ReadOptions.MaxDepth. Duplicate keys: the last one wins.
    private static JsonNode? ToNode(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var obj = new JsonObject(NodeOptions);
                foreach (var property in element.EnumerateObject()) obj[property.Name] = ToNode(property.Value);
                return obj;
            case JsonValueKind.Array:
                var array = new JsonArray(NodeOptions);
                foreach (var item in element.EnumerateArray()) array.Add(ToNode(item));
                return array;
            case JsonValueKind.String:
                return JsonValue.Create(element.GetString()!, NodeOptions);
            case JsonValueKind.Number:
                return JsonValue.Create(element.TryGetDouble(out var number)
                    ? number
                    : double.Parse(element.GetRawText(), NumberStyles.Float, CultureInfo.InvariantCulture), NodeOptions);
            case JsonValueKind.True:
                return JsonValue.Create(true, NodeOptions);
            case JsonValueKind.False:
                return JsonValue.Create(false, NodeOptions);
            default:
                return null;
        }
    }

    /// <summary>An evaluation result handed back to the caller: copies, so the caller may attach or change it freely.</summary>
    public static JsonNode? ToResultNode(Value value)
    {
        switch (value.Kind)
        {
            case ValueKind.Null: return null;
            case ValueKind.Boolean: return JsonValue.Create(value.AsBoolean);
            case ValueKind.String: return JsonValue.Create(value.AsString);
            case ValueKind.Number:
                var number = value.AsNumber;
                return double.IsFinite(number) ? JsonValue.Create(number) : JsonValue.Create(Coercion.FormatNumber(number));
        }
        if (value.Identity is JsonNode node) return node.DeepClone();
        var array = new JsonArray();
        foreach (var item in value.Items()) array.Add(ToResultNode(item));
        return array;
    }
}
