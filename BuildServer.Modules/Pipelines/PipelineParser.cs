using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace BuildServer.Modules.Pipelines;

/// <summary>
/// The skeleton's pipeline language: <c>name</c>, <c>env</c>, and per job <c>name</c>, <c>needs</c>,
/// <c>runs-on</c>, <c>env</c>, <c>steps[].name/run/env</c>. It collects every error it finds, each with its
/// line and column, and never throws for bad input.
/// </summary>
internal sealed partial class PipelineParser : IPipelineParser
{
    public const int MaxBytes = PipelineLimits.MaxBytes;
    private const int MaxNesting = 64;

    // Accepted and ignored for now: a workflow brought from elsewhere still parses; triggers come later.
    private static readonly HashSet<string> IgnoredRootKeys = ["on", "run-name", "permissions"];

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_-]*$")]
    private static partial Regex JobKeyPattern();

    public PipelineParseResult Parse(string yaml)
    {
        if (yaml.Length > MaxBytes)
        {
            return Fail(1, 1, $"The pipeline is larger than {MaxBytes / 1024} KiB.");
        }
        if (NestingTooDeep(yaml) is { } deep)
        {
            return Fail(deep.Line, deep.Column, $"The pipeline nests deeper than {MaxNesting} levels.");
        }
        YamlStream stream = [];
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            return Fail((int)e.Start.Line, (int)e.Start.Column, "Invalid YAML: " + (e.InnerException?.Message ?? e.Message));
        }
        if (stream.Documents.Count != 1)
        {
            return Fail(1, 1, stream.Documents.Count == 0 ? "The pipeline is empty." : "The pipeline must be a single YAML document.");
        }
        var errors = new List<PipelineError>();
        var pipeline = new Reader(errors).ReadPipeline(stream.Documents[0].RootNode);
        return errors.Count > 0 ? new PipelineParseResult(null, errors) : new PipelineParseResult(pipeline, errors);
    }

    private static PipelineParseResult Fail(long line, long column, string message) =>
        new(null, [new PipelineError((int)Math.Max(line, 1), (int)Math.Max(column, 1), message)]);

    /// <summary>Guards the recursive YAML reader against stack exhaustion from pathological flow nesting.</summary>
    private static (int Line, int Column)? NestingTooDeep(string yaml)
    {
        int depth = 0, line = 1, column = 0;
        foreach (var c in yaml)
        {
            column++;
            switch (c)
            {
                case '\n': line++; column = 0; break;
                case '[' or '{': if (++depth > MaxNesting) return (line, column); break;
                case ']' or '}': depth = Math.Max(0, depth - 1); break;
            }
        }
        return null;
    }

    private sealed class Reader(List<PipelineError> errors)
    {
        public PipelineDefinition? ReadPipeline(YamlNode root)
        {
            if (root is not YamlMappingNode map)
            {
                Error(root, "The pipeline must be a mapping with at least a 'jobs' key.");
                return null;
            }
            string? name = null;
            IReadOnlyDictionary<string, string> env = new Dictionary<string, string>();
            YamlMappingNode? jobsNode = null;
            foreach (var (keyNode, value) in map.Children)
            {
                switch (Key(keyNode))
                {
                    case "name": name = Scalar(value, "name"); break;
                    case "env": env = ReadEnv(value); break;
                    case "jobs":
                        jobsNode = value as YamlMappingNode;
                        if (jobsNode is null) Error(value, "'jobs' must be a mapping of job ids to jobs.");
                        break;
                    case { } key when IgnoredRootKeys.Contains(key): break;
                    case var key: Error(keyNode, $"Unknown key '{key}' at the top level; supported: name, env, jobs (and on, run-name, permissions, accepted but not acted on yet)."); break;
                }
            }
            if (jobsNode is null)
            {
                if (!map.Children.Keys.Any(k => Key(k) == "jobs")) Error(map, "The pipeline has no 'jobs'.");
                return null;
            }
            if (jobsNode.Children.Count == 0)
            {
                Error(jobsNode, "'jobs' is empty: a pipeline needs at least one job.");
                return null;
            }
            var jobs = new List<(JobDefinition Job, YamlNode Node, Dictionary<string, YamlNode> NeedNodes)>();
            foreach (var (keyNode, value) in jobsNode.Children)
            {
                var key = Key(keyNode);
                if (!JobKeyPattern().IsMatch(key))
                {
                    Error(keyNode, $"Job id '{key}' is invalid: it must start with a letter or '_' and contain only letters, digits, '-' and '_'.", key);
                    continue;
                }
                if (ReadJob(key, value) is (var job, var needNodes))
                {
                    jobs.Add((job, keyNode, needNodes));
                }
            }
            var ordered = Order(jobs);
            return errors.Count == 0 && ordered is not null ? new PipelineDefinition(name, env, ordered) : null;
        }

        private (JobDefinition Job, Dictionary<string, YamlNode> NeedNodes)? ReadJob(string key, YamlNode node)
        {
            if (node is not YamlMappingNode map)
            {
                Error(node, $"Job '{key}' must be a mapping with 'steps'.", key);
                return null;
            }
            string? name = null;
            var needs = new List<string>();
            var needNodes = new Dictionary<string, YamlNode>();
            IReadOnlyList<string> runsOn = [];
            IReadOnlyDictionary<string, string> env = new Dictionary<string, string>();
            List<StepDefinition>? steps = null;
            foreach (var (keyNode, value) in map.Children)
            {
                switch (Key(keyNode))
                {
                    case "name": name = Scalar(value, "name", key); break;
                    case "needs":
                        foreach (var (need, needNode) in StringOrList(value, "needs", key))
                        {
                            if (needNodes.TryAdd(need, needNode)) needs.Add(need);
                        }
                        break;
                    case "runs-on": runsOn = StringOrList(value, "runs-on", key).Select(x => x.Value).ToList(); break;
                    case "env": env = ReadEnv(value, key); break;
                    case "steps": steps = ReadSteps(value, key); break;
                    case var other: Error(keyNode, $"Unknown key '{other}' in job '{key}'; supported: name, needs, runs-on, env, steps.", key); break;
                }
            }
            if (steps is null)
            {
                if (!map.Children.Keys.Any(k => Key(k) == "steps")) Error(map, $"Job '{key}' has no 'steps'.", key);
                return null;
            }
            return (new JobDefinition(key, name ?? key, needs, runsOn, env, steps), needNodes);
        }

        private List<StepDefinition>? ReadSteps(YamlNode node, string job)
        {
            if (node is not YamlSequenceNode seq || seq.Children.Count == 0)
            {
                Error(node, $"'steps' of job '{job}' must be a non-empty list.", job);
                return null;
            }
            var steps = new List<StepDefinition>();
            for (var i = 0; i < seq.Children.Count; i++)
            {
                if (seq.Children[i] is not YamlMappingNode step)
                {
                    Error(seq.Children[i], $"Step {i + 1} of job '{job}' must be a mapping with 'run'.", job);
                    continue;
                }
                string? name = null, run = null;
                IReadOnlyDictionary<string, string> env = new Dictionary<string, string>();
                foreach (var (keyNode, value) in step.Children)
                {
                    switch (Key(keyNode))
                    {
                        case "name": name = Scalar(value, "name", job); break;
                        case "run": run = Scalar(value, "run", job); break;
                        case "env": env = ReadEnv(value, job); break;
                        case "uses": Error(keyNode, $"Step {i + 1} of job '{job}': 'uses' (actions) is not supported yet; use 'run'.", job); break;
                        case var other: Error(keyNode, $"Unknown key '{other}' in step {i + 1} of job '{job}'; supported: name, run, env.", job); break;
                    }
                }
                if (run is null)
                {
                    if (!step.Children.Keys.Any(k => Key(k) is "run" or "uses")) Error(step, $"Step {i + 1} of job '{job}' has no 'run'.", job);
                    continue;
                }
                steps.Add(new StepDefinition(name ?? FirstLine(run), run, env));
            }
            return steps;
        }

        /// <summary>Checks needs and orders the jobs so that each comes after all it needs (Kahn's algorithm).</summary>
        private List<JobDefinition>? Order(List<(JobDefinition Job, YamlNode Node, Dictionary<string, YamlNode> NeedNodes)> jobs)
        {
            var byKey = jobs.ToDictionary(j => j.Job.Key);
            foreach (var (job, _, needNodes) in jobs)
            {
                foreach (var need in job.Needs.Where(n => !byKey.ContainsKey(n)))
                {
                    Error(needNodes[need], $"Job '{job.Key}' needs '{need}', which is not a job in this pipeline.", job.Key);
                }
                if (job.Needs.Contains(job.Key))
                {
                    Error(needNodes[job.Key], $"Job '{job.Key}' needs itself.", job.Key);
                }
            }
            if (errors.Count > 0)
            {
                return null;
            }
            var remaining = jobs.ToDictionary(j => j.Job.Key, j => j.Job.Needs.Count);
            var ordered = new List<JobDefinition>();
            while (ordered.Count < jobs.Count)
            {
                var ready = jobs.Where(j => remaining.TryGetValue(j.Job.Key, out var n) && n == 0).ToList();
                if (ready.Count == 0)
                {
                    var cycle = FindCycle(jobs.Where(j => remaining.ContainsKey(j.Job.Key)).Select(j => j.Job).ToList());
                    Error(byKey[cycle[0]].Node, $"Dependency cycle: {string.Join(" -> ", cycle)}.", cycle[0]);
                    return null;
                }
                foreach (var (job, _, _) in ready)
                {
                    remaining.Remove(job.Key);
                    ordered.Add(job);
                    foreach (var dependent in jobs.Where(j => j.Job.Needs.Contains(job.Key)))
                    {
                        remaining[dependent.Job.Key]--;
                    }
                }
            }
            return ordered;
        }

        private static List<string> FindCycle(List<JobDefinition> stuck)
        {
            var byKey = stuck.ToDictionary(j => j.Key);
            var path = new List<string>();
            var current = stuck[0].Key;
            while (!path.Contains(current))
            {
                path.Add(current);
                current = byKey[current].Needs.First(byKey.ContainsKey);
            }
            var cycle = path[path.IndexOf(current)..];
            cycle.Add(current);
            return cycle;
        }

        private Dictionary<string, string> ReadEnv(YamlNode node, string? job = null)
        {
            var env = new Dictionary<string, string>();
            if (node is not YamlMappingNode map)
            {
                Error(node, "'env' must be a mapping of names to values.", job);
                return env;
            }
            foreach (var (keyNode, value) in map.Children)
            {
                var key = Key(keyNode);
                if (key.Length == 0 || key.Contains('=') || key.Contains('\0'))
                {
                    Error(keyNode, $"'{key}' is not a valid environment variable name.", job);
                    continue;
                }
                if (Scalar(value, $"env.{key}", job) is { } text) env[key] = text;
            }
            return env;
        }

        private List<(string Value, YamlNode Node)> StringOrList(YamlNode node, string what, string job)
        {
            if (node is YamlScalarNode scalar)
            {
                return scalar.Value is { Length: > 0 } v ? [(v, node)] : [];
            }
            if (node is YamlSequenceNode seq)
            {
                return seq.Children.Select(c => (Value: Scalar(c, what, job), Node: c))
                    .Where(x => x.Value is not null).Select(x => (x.Value!, x.Node)).ToList();
            }
            Error(node, $"'{what}' of job '{job}' must be a string or a list of strings.", job);
            return [];
        }

        private string? Scalar(YamlNode node, string what, string? job = null)
        {
            if (node is YamlScalarNode scalar)
            {
                return scalar.Value ?? "";
            }
            Error(node, $"'{what}' must be a string" + (job is null ? "." : $" (job '{job}')."), job);
            return null;
        }

        private static string Key(YamlNode node) => node is YamlScalarNode s ? s.Value ?? "" : node.ToString();

        private static string FirstLine(string run) => run.Split('\n', 2)[0].Trim() is { Length: > 0 } l ? "Run " + l : "Run";

        private void Error(YamlNode node, string message, string? job = null) =>
            errors.Add(new PipelineError((int)Math.Max(node.Start.Line, 1), (int)Math.Max(node.Start.Column, 1), message, job));
    }
}
