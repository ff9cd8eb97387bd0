using System.Text.Json.Nodes;

namespace BuildServer.Modules.Pipelines.Planning;

/// <param name="Combinations">One object per job, matrix keys first (in the matrix's order), then keys added by
/// <c>include</c>; empty when <see cref="Error"/> is set.</param>
/// <param name="Error">Why the matrix cannot be expanded (no combinations, too many, a malformed value), or null.</param>
public sealed record MatrixExpansionResult(IReadOnlyList<JsonObject> Combinations, string? Error);

/// <summary>
/// Expands <c>strategy.matrix</c> with GitHub's semantics: the cartesian product of the keys other than
/// <c>include</c>/<c>exclude</c>; then <c>exclude</c> drops each combination that matches all the keys of an entry;
/// then each <c>include</c> entry is merged into every original combination whose original values it does not
/// change (values it added before may be overwritten), or, when it fits none, becomes a combination of its own.
/// </summary>
public static class MatrixExpansion
{
    /// <summary>Past this many raw combinations the product is not built: no realistic exclude list makes it fit.</summary>
    private const long ProductCap = 1 << 12;

    /// <summary>How many combination-to-entry comparisons include and exclude may cost, so that no input is slow.</summary>
    private const long ComparisonBudget = 4_000_000;

    public static MatrixExpansionResult Expand(JsonObject matrix, int limit = 256)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        var include = new List<JsonObject>();
        var exclude = new List<JsonObject>();
        var axes = new List<(string Key, JsonArray Values)>();
        foreach (var (key, value) in matrix)
        {
            if (key is "include" or "exclude")
            {
                if (value is not JsonArray entries || entries.Any(e => e is not JsonObject))
                {
                    return Fail($"the matrix's '{key}' must be a list of mappings");
                }
                (key == "include" ? include : exclude).AddRange(entries.Cast<JsonObject>());
            }
            else if (value is JsonArray values)
            {
                axes.Add((key, values));
            }
            else
            {
                return Fail($"the matrix key '{key}' must be a list of values");
            }
        }

        var size = axes.Count == 0 ? 0L : 1L;
        foreach (var (_, values) in axes) size = values.Count == 0 ? 0 : size > long.MaxValue / values.Count ? long.MaxValue : size * values.Count;
        if (size > Math.Max(ProductCap, limit)) return Fail($"the matrix expands to {size} combinations, more than the limit of {limit}");
        if (Math.Max(size, 1) * (include.Count + exclude.Count) > ComparisonBudget)
        {
            return Fail($"the matrix's include and exclude lists ({include.Count + exclude.Count} entries) are too long for {size} combinations");
        }

        var originals = Product(axes, size).Where(c => !exclude.Any(e => Matches(c, e))).ToList();
        var originalKeys = axes.Select(a => a.Key).ToHashSet(StringComparer.Ordinal);
        var added = new List<JsonObject>();
        foreach (var entry in include)
        {
            var merged = false;
            foreach (var combination in originals.Where(c => Fits(c, entry, originalKeys)))
            {
                foreach (var (key, value) in entry) combination[key] = value?.DeepClone();
                merged = true;
            }
            if (!merged) added.Add((JsonObject)entry.DeepClone());
        }

        var all = originals.Concat(added).ToList();
        if (all.Count == 0) return Fail("the matrix has no combinations");
        if (all.Count > limit) return Fail($"the matrix expands to {all.Count} combinations, more than the limit of {limit}");
        return new MatrixExpansionResult(all, null);
    }

    private static MatrixExpansionResult Fail(string error) => new([], error);

    private static IEnumerable<JsonObject> Product(List<(string Key, JsonArray Values)> axes, long size)
    {
        for (var index = 0L; index < size; index++)
        {
            // The last key varies fastest, as GitHub orders the jobs.
            var combination = new JsonObject();
            var rest = index;
            var picks = new int[axes.Count];
            for (var a = axes.Count - 1; a >= 0; a--)
            {
                picks[a] = (int)(rest % axes[a].Values.Count);
                rest /= axes[a].Values.Count;
            }
            for (var a = 0; a < axes.Count; a++) combination[axes[a].Key] = axes[a].Values[picks[a]]?.DeepClone();
            yield return combination;
        }
    }

    /// <summary>An exclude entry matches when every key it names is in the combination with an equal value.</summary>
    private static bool Matches(JsonObject combination, JsonObject exclude) =>
        exclude.All(p => combination.TryGetPropertyValue(p.Key, out var value) && JsonNode.DeepEquals(value, p.Value));

    /// <summary>An include entry fits when it changes none of the combination's original matrix values.</summary>
    private static bool Fits(JsonObject combination, JsonObject include, HashSet<string> originalKeys) =>
        include.All(p => !originalKeys.Contains(p.Key)
            || (combination.TryGetPropertyValue(p.Key, out var value) && JsonNode.DeepEquals(value, p.Value)));
}
