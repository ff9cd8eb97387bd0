using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace BuildServer.Modules.Pipelines.Workflow;

/// <param name="Root">The document's root node; null when the text holds no document or reading stopped.</param>
/// <param name="Problems">Duplicate keys and the like; when <see cref="Root"/> is null, the reason it is.</param>
internal sealed record YamlLoadResult(YNode? Root, IReadOnlyList<YamlProblem> Problems);

/// <summary>
/// Reads YAML text into a <see cref="YNode"/> tree from YamlDotNet's event stream, iteratively (no recursion, so no
/// input can exhaust the stack), with caps on nesting and on how many nodes aliases may expand to.
/// </summary>
internal static partial class YamlLoader
{
    public const int MaxDepth = 64;
    public const long MaxAliasNodes = 100_000;
    private const long SizeCap = 1L << 40;

    [GeneratedRegex(@"^\(Line: \d+, Col: \d+, Idx: \d+\) - \(Line: \d+, Col: \d+, Idx: \d+\): ")]
    private static partial Regex MarkPrefix();

    public static YamlLoadResult Load(string text)
    {
        var problems = new List<YamlProblem>();
        var parser = new Parser(new StringReader(text));
        try
        {
            var root = Build(parser, problems, out var stop);
            return stop is null ? new YamlLoadResult(root, problems) : new YamlLoadResult(null, [stop]);
        }
        catch (YamlException e)
        {
            var message = MarkPrefix().Replace(e.Message, "");
            return Stop(e.Start, "Invalid YAML: " + message.TrimEnd('.') + ".");
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner throws this (instead of a YamlException) for a few malformed plain scalars.
            return Stop(parser.Current?.End ?? Mark.Empty, "Invalid YAML after this point: a value could not be read (check quoting and indentation).");
        }
    }

    private static YamlLoadResult Stop(Mark at, string message) => new(null, [new YamlProblem(at, message)]);

    private static YNode? Build(Parser parser, List<YamlProblem> problems, out YamlProblem? stop)
    {
        stop = null;
        var anchors = new Dictionary<string, YNode>(StringComparer.Ordinal);
        var open = new Stack<Frame>();
        YNode? root = null;
        var documents = 0;
        long aliasNodes = 0;

        void Add(YNode node, AnchorName anchor)
        {
            if (!anchor.IsEmpty) anchors[anchor.Value] = node;
            if (open.TryPeek(out var parent)) parent.Children.Add(node);
            else root = node;
        }

        while (parser.MoveNext())
        {
            switch (parser.Current)
            {
                case DocumentStart start when ++documents > 1:
                    stop = new YamlProblem(start.Start, "The workflow file must be one YAML document, but a second one starts here.");
                    return null;
                case Scalar s:
                    Add(new YScalar(s.Value, s.Style, !s.Tag.IsEmpty, s.Start, s.End), s.Anchor);
                    break;
                case SequenceStart or MappingStart when open.Count >= MaxDepth:
                    stop = new YamlProblem(parser.Current.Start, $"The workflow nests deeper than {MaxDepth} levels.");
                    return null;
                case NodeEvent { } start and (SequenceStart or MappingStart):
                    open.Push(new Frame(start, []));
                    break;
                case SequenceEnd end:
                    var sequenceFrame = open.Pop();
                    Add(Sized(new YSequence(sequenceFrame.Start.Start, end.End, sequenceFrame.Children), sequenceFrame.Children), sequenceFrame.Start.Anchor);
                    break;
                case MappingEnd end:
                    var mappingFrame = open.Pop();
                    var mapping = MakeMapping(mappingFrame, end.End, problems);
                    Add(Sized(mapping, mapping.Entries.SelectMany(e => new[] { e.Key, e.Value })), mappingFrame.Start.Anchor);
                    break;
                case AnchorAlias alias:
                    if (!anchors.TryGetValue(alias.Value.Value, out var target))
                    {
                        stop = new YamlProblem(alias.Start, $"The alias '*{alias.Value.Value}' names no anchor defined before it ('&{alias.Value.Value}').");
                    return null;
                    }
                    aliasNodes += target.Size;
                    if (aliasNodes > MaxAliasNodes)
                    {
                        stop = new YamlProblem(alias.Start, $"YAML aliases expand to more than {MaxAliasNodes} nodes.");
                    return null;
                    }
                    Add(target, default);
                    break;
            }
        }
        return root;
    }

    private static T Sized<T>(T node, IEnumerable<YNode> children) where T : YNode
    {
        var size = 1L;
        foreach (var child in children) size = Math.Min(size + child.Size, SizeCap);
        node.Size = size;
        return node;
    }

    /// <summary>Pairs up keys and values, reports duplicate keys, and applies <c>&lt;&lt;</c> merge keys
    /// (explicit keys win over merged ones; earlier merged mappings win over later ones).</summary>
    private static YMapping MakeMapping(Frame frame, Mark end, List<YamlProblem> problems)
    {
        var entries = new List<KeyValuePair<YNode, YNode>>();
        var merged = new List<YMapping>();
        var seen = new Dictionary<string, YNode>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < frame.Children.Count; i += 2)
        {
            var (key, value) = (frame.Children[i], frame.Children[i + 1]);
            if (key is YScalar { IsPlain: true, Value: "<<" })
            {
                AddMergeSources(key, value, merged, problems);
                continue;
            }
            if (key is YScalar scalarKey)
            {
                if (seen.TryGetValue(scalarKey.Value, out var first))
                {
                    problems.Add(new YamlProblem(key.Start, $"Duplicate key '{scalarKey.Value}' (already at line {first.Start.Line}); a key may appear once in a mapping."));
                    continue;
                }
                seen[scalarKey.Value] = key;
            }
            entries.Add(new(key, value));
        }
        foreach (var source in merged)
        {
            foreach (var entry in source.Entries)
            {
                if (entry.Key is YScalar k && seen.TryAdd(k.Value, k)) entries.Add(entry);
            }
        }
        return new YMapping(frame.Start.Start, end, entries);
    }

    private static void AddMergeSources(YNode key, YNode value, List<YMapping> merged, List<YamlProblem> problems)
    {
        switch (value)
        {
            case YMapping mapping:
                merged.Add(mapping);
                break;
            case YSequence sequence when sequence.Items.All(i => i is YMapping):
                merged.AddRange(sequence.Items.Cast<YMapping>());
                break;
            default:
                problems.Add(new YamlProblem(key.Start, "The merge key '<<' needs a mapping (usually an alias like '*defaults') or a list of mappings."));
                break;
        }
    }

    private sealed record Frame(NodeEvent Start, List<YNode> Children);
}
