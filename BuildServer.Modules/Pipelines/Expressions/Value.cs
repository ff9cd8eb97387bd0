using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace BuildServer.Modules.Pipelines.Expressions;

internal enum ValueKind
{
    Null,
    Boolean,
    Number,
    String,
    Array,
    Object,
}

/// <summary>
/// A value during evaluation. Arrays and objects wrap the caller's (or fromJSON's) nodes without copying them, so
/// equality between them is reference equality as in GitHub. A filtered array is what an object filter (<c>*</c>)
/// yields: the next property or index applies to each of its items instead of to the array itself.
/// </summary>
internal readonly struct Value
{
    private readonly object? _reference; // string, JsonArray, JsonObject or List<Value> (filtered array)
    private readonly double _number;

    private Value(ValueKind kind, double number, object? reference)
    {
        Kind = kind;
        _number = number;
        _reference = reference;
    }

    public ValueKind Kind { get; }

    public static Value Null => default;

    public static Value True { get; } = new(ValueKind.Boolean, 1, null);

    public static Value False { get; } = new(ValueKind.Boolean, 0, null);

    public bool IsPrimitive => Kind <= ValueKind.String;

    public bool IsFiltered => _reference is List<Value>;

    public bool AsBoolean => _number != 0;

    public double AsNumber => _number;

    public string AsString => _reference as string ?? "";

    /// <summary>The array or object instance, for reference equality.</summary>
    public object? Identity => _reference;

    public int Count => _reference switch
    {
        JsonArray array => array.Count,
        List<Value> list => list.Count,
        JsonObject obj => obj.Count,
        _ => 0,
    };

    public static Value FromBoolean(bool value) => value ? True : False;

    public static Value FromNumber(double value) => new(ValueKind.Number, value, null);

    public static Value FromString(string value) => new(ValueKind.String, 0, value);

    public static Value FromFiltered(List<Value> items) => new(ValueKind.Array, 0, items);

    /// <summary>The array's items, or an object's property values.</summary>
    public IEnumerable<Value> Items()
    {
        switch (_reference)
        {
            case JsonArray array:
                foreach (var item in array) yield return FromNode(item);
                break;
            case List<Value> list:
                foreach (var item in list) yield return item;
                break;
            case JsonObject obj:
                foreach (var property in obj) yield return FromNode(property.Value);
                break;
        }
    }

    public IEnumerable<KeyValuePair<string, Value>> Properties()
    {
        if (_reference is JsonObject obj)
        {
            foreach (var property in obj) yield return new(property.Key, FromNode(property.Value));
        }
    }

    public Value ItemAt(int index) => _reference switch
    {
        JsonArray array when index < array.Count => FromNode(array[index]),
        List<Value> list when index < list.Count => list[index],
        _ => Null,
    };

    /// <summary>Property lookup, case-insensitive as in GitHub (an exact match wins).</summary>
    public bool TryGetProperty(string name, out Value value)
    {
        value = Null;
        if (_reference is not JsonObject obj) return false;
        if (obj.TryGetPropertyValue(name, out var exact))
        {
            value = FromNode(exact);
            return true;
        }
        foreach (var property in obj)
        {
            if (string.Equals(property.Key, name, StringComparison.OrdinalIgnoreCase))
            {
                value = FromNode(property.Value);
                return true;
            }
        }
        return false;
    }

    public static Value FromNode(JsonNode? node)
    {
        switch (node)
        {
            case null:
                return Null;
            case JsonObject:
            case JsonArray:
                return new Value(node is JsonObject ? ValueKind.Object : ValueKind.Array, 0, node);
        }
        try
        {
            var jsonValue = node.AsValue();
            switch (jsonValue.GetValueKind())
            {
                case JsonValueKind.True: return True;
                case JsonValueKind.False: return False;
                case JsonValueKind.String:
                    return FromString(jsonValue.TryGetValue(out string? text) ? text : JsonSerializer.Deserialize<string>(jsonValue.ToJsonString()) ?? "");
                case JsonValueKind.Number:
                    return FromNumber(jsonValue.TryGetValue(out double number)
                        ? number
                        : double.Parse(jsonValue.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture));
                case JsonValueKind.Object:
                case JsonValueKind.Array:
                    // A JsonValue wrapping a CLR object: read it through its JSON form.
                    return FromNode(JsonNode.Parse(jsonValue.ToJsonString()));
                default:
                    return Null;
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NotSupportedException or FormatException)
        {
            throw new ExpressionException($"A context value could not be read: {e.Message}", e);
        }
    }
}
