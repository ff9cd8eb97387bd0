using System.Globalization;

namespace BuildServer.Modules.Pipelines.Expressions;

/// <summary>
/// GitHub's conversion rules. To a number: null is 0, booleans 1/0, strings are parsed (blank is 0, anything
/// unparsable NaN), arrays and objects NaN. Comparisons between different kinds first turn a null or boolean side
/// into a number, then a string facing a number into a number; kinds that still differ are unequal and unordered.
/// Strings compare case-insensitively; arrays and objects are equal only to themselves.
/// </summary>
internal static class Coercion
{
    /// <summary>false, 0, -0, NaN, "" and null are falsy; everything else, including empty arrays and objects, is truthy.</summary>
    public static bool IsTruthy(Value value) => value.Kind switch
    {
        ValueKind.Null => false,
        ValueKind.Boolean => value.AsBoolean,
        ValueKind.Number => value.AsNumber != 0 && !double.IsNaN(value.AsNumber),
        ValueKind.String => value.AsString.Length > 0,
        _ => true,
    };

    public static double ToNumber(Value value) => value.Kind switch
    {
        ValueKind.Null => 0,
        ValueKind.Boolean => value.AsBoolean ? 1 : 0,
        ValueKind.Number => value.AsNumber,
        ValueKind.String => ParseNumber(value.AsString),
        _ => double.NaN,
    };

    /// <summary>The string-to-number rule (and the number literal rule): JSON-like decimals, 0x hex, 0o octal, Infinity.</summary>
    public static double ParseNumber(string text)
    {
        var s = text.Trim();
        if (s.Length == 0) return 0;
        const NumberStyles Decimal = NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent;
        if (double.TryParse(s, Decimal, CultureInfo.InvariantCulture, out var number)) return number;
        if (s.Length > 2 && s[0] == '0' && s[1] == 'x' && !s.AsSpan(2).ContainsAnyExcept(HexDigits))
        {
            // As in GitHub: a 32-bit signed value, so 0xffffffff is -1 and longer values are NaN.
            return int.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var hex) ? hex : double.NaN;
        }
        if (s.Length > 2 && s[0] == '0' && s[1] == 'o' && !s.AsSpan(2).ContainsAnyExcept(OctalDigits))
        {
            ulong octal = 0;
            foreach (var c in s.AsSpan(2))
            {
                octal = (octal * 8) + (ulong)(c - '0');
                if (octal > uint.MaxValue) return double.NaN;
            }
            return unchecked((int)(uint)octal);
        }
        return double.NaN;
    }

    private static readonly System.Buffers.SearchValues<char> HexDigits =
        System.Buffers.SearchValues.Create("0123456789abcdefABCDEF");

    private static readonly System.Buffers.SearchValues<char> OctalDigits = System.Buffers.SearchValues.Create("01234567");

    /// <summary>GitHub's string conversion, used by format, join, contains...: arrays and objects become "Array"/"Object".</summary>
    public static string ToDisplayString(Value value) => value.Kind switch
    {
        ValueKind.Null => "",
        ValueKind.Boolean => value.AsBoolean ? "true" : "false",
        ValueKind.Number => FormatNumber(value.AsNumber),
        ValueKind.String => value.AsString,
        ValueKind.Array => "Array",
        _ => "Object",
    };

    /// <summary>The conversion for <c>${{ }}</c> in a template: as <see cref="ToDisplayString"/>, but arrays and objects as JSON.</summary>
    public static string ToTemplateString(Value value) =>
        value.Kind is ValueKind.Array or ValueKind.Object ? Json.Write(value) : ToDisplayString(value);

    /// <summary>Up to 15 significant digits, no trailing zeros, -0 as 0 (1.0 → "1", 0.5 → "0.5", 1e-2 → "0.01").</summary>
    public static string FormatNumber(double number) =>
        number == 0 ? "0" : number.ToString("G15", CultureInfo.InvariantCulture);

    public static bool LooseEquals(Value left, Value right)
    {
        Coerce(ref left, ref right);
        if (left.Kind != right.Kind) return false;
        return left.Kind switch
        {
            ValueKind.Null => true,
            ValueKind.Boolean => left.AsBoolean == right.AsBoolean,
            ValueKind.Number => left.AsNumber == right.AsNumber, // NaN is unequal to everything, itself included
            ValueKind.String => string.Equals(left.AsString, right.AsString, StringComparison.OrdinalIgnoreCase),
            _ => ReferenceEquals(left.Identity, right.Identity),
        };
    }

    /// <summary>-1, 0 or 1 when the two are ordered; null when they are not (different kinds, NaN, arrays, objects, nulls).</summary>
    public static int? Compare(Value left, Value right)
    {
        Coerce(ref left, ref right);
        if (left.Kind != right.Kind) return null;
        return left.Kind switch
        {
            ValueKind.Number when double.IsNaN(left.AsNumber) || double.IsNaN(right.AsNumber) => null,
            ValueKind.Number => left.AsNumber.CompareTo(right.AsNumber),
            ValueKind.Boolean => left.AsBoolean.CompareTo(right.AsBoolean),
            ValueKind.String => Math.Sign(string.Compare(left.AsString, right.AsString, StringComparison.OrdinalIgnoreCase)),
            _ => null,
        };
    }

    private static void Coerce(ref Value left, ref Value right)
    {
        for (var i = 0; i < 3 && left.Kind != right.Kind; i++)
        {
            if (left.Kind == ValueKind.Number && right.Kind == ValueKind.String)
            {
                right = Value.FromNumber(ToNumber(right));
            }
            else if (left.Kind == ValueKind.String && right.Kind == ValueKind.Number)
            {
                left = Value.FromNumber(ToNumber(left));
            }
            else if (left.Kind is ValueKind.Boolean or ValueKind.Null)
            {
                left = Value.FromNumber(ToNumber(left));
            }
            else if (right.Kind is ValueKind.Boolean or ValueKind.Null)
            {
                right = Value.FromNumber(ToNumber(right));
            }
            else
            {
                return;
            }
        }
    }
}
