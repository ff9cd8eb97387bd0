namespace BuildServer.Modules.Pipelines.Workflow;

/// <summary>Cycles in the jobs' <c>needs</c> (a matrix job is one node: needs name job ids, not instances).</summary>
internal static class JobGraph
{
    /// <summary>Each cycle once (at most <paramref name="max"/>: one is enough to act on), as a path that ends where it starts (<c>a, b, a</c>), in the order the jobs are
    /// written. Iterative depth-first search, so a long chain cannot exhaust the stack.</summary>
    public static List<List<string>> Cycles(IReadOnlyDictionary<string, List<string>> needs, int max = 10)
    {
        var cycles = new List<List<string>>();
        var reported = new HashSet<string>(StringComparer.Ordinal);
        var state = new Dictionary<string, int>(StringComparer.Ordinal); // 1 on the path, 2 done
        foreach (var start in needs.Keys)
        {
            if (state.ContainsKey(start)) continue;
            var path = new List<string> { start };
            var next = new Stack<int>([0]);
            state[start] = 1;
            while (path.Count > 0 && cycles.Count < max)
            {
                var node = path[^1];
                var edges = needs.GetValueOrDefault(node) ?? [];
                var index = next.Pop();
                if (index >= edges.Count)
                {
                    state[node] = 2;
                    path.RemoveAt(path.Count - 1);
                    continue;
                }
                next.Push(index + 1);
                var target = edges[index];
                switch (state.GetValueOrDefault(target))
                {
                    case 0:
                        state[target] = 1;
                        path.Add(target);
                        next.Push(0);
                        break;
                    case 1:
                        var cycle = path[path.IndexOf(target)..];
                        var key = string.Join("\n", cycle.Order(StringComparer.Ordinal));
                        if (reported.Add(key)) cycles.Add([.. cycle, target]);
                        break;
                }
            }
        }
        return cycles;
    }
}
