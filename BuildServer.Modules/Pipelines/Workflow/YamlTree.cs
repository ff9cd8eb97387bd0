using YamlDotNet.Core;

namespace BuildServer.Modules.Pipelines.Workflow;

// The workflow reader's own YAML tree, built from YamlDotNet's event parser instead of its RepresentationModel:
// building it ourselves lets us report every duplicate key (not only the first), bound nesting without recursion,
// bound alias expansion, and apply '<<' merge keys, while keeping each node's start mark (line, column, index).

internal abstract class YNode(Mark start, Mark end)
{
    public Mark Start { get; } = start;

    public Mark End { get; } = end;

    /// <summary>How many nodes this subtree holds, counting what its aliases expand to (saturating).</summary>
    public long Size { get; set; } = 1;

    public abstract string Kind { get; }
}

internal sealed class YScalar(string value, ScalarStyle style, bool hasTag, Mark start, Mark end) : YNode(start, end)
{
    public string Value { get; } = value;

    public ScalarStyle Style { get; } = style;

    /// <summary>A plain scalar without a tag: the one kind of scalar whose text YAML resolves to null/bool/number.</summary>
    public bool IsPlain => Style == ScalarStyle.Plain && !hasTag;

    /// <summary>YAML's null: an empty plain value, <c>~</c> or <c>null</c>.</summary>
    public bool IsNull => IsPlain && Value is "" or "~" or "null" or "Null" or "NULL";

    public override string Kind => "a string";
}

internal sealed class YSequence(Mark start, Mark end, List<YNode> items) : YNode(start, end)
{
    public List<YNode> Items { get; } = items;

    public override string Kind => "a list";
}

internal sealed class YMapping(Mark start, Mark end, List<KeyValuePair<YNode, YNode>> entries) : YNode(start, end)
{
    public List<KeyValuePair<YNode, YNode>> Entries { get; } = entries;

    public override string Kind => "a mapping";
}

/// <summary>A problem found while reading the YAML itself (a duplicate key, a bad merge key).</summary>
internal sealed record YamlProblem(Mark At, string Message);
