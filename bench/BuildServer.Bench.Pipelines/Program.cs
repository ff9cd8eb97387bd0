using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using BuildServer.Modules.Pipelines.Planning;
using BuildServer.Modules.Pipelines.Workflow;
using YamlDotNet.RepresentationModel;

// Parse + plan of generated workflows, per file: median time and allocated bytes over N iterations after a
// warm-up, beside the bare operation (YamlDotNet loading the same text into its node tree, which the parser
// does first). One JSON document on stdout.
var iterations = int.TryParse(Environment.GetEnvironmentVariable("BENCH_ITERATIONS"), out var n) ? n : 200;
var parser = WorkflowFiles.CreateParser();
var cases = new (string Name, string Yaml)[]
{
    ("matrix_16x16_20_steps", MatrixWorkflow()),
    ("workflow_1000_lines", LongWorkflow(1000)),
};
var result = new JsonObject
{
    ["bench"] = "pipelines",
    ["iterations"] = iterations,
    ["dotnet"] = Environment.Version.ToString(),
    ["nproc"] = Environment.ProcessorCount,
};
foreach (var (name, yaml) in cases)
{
    var parsed = parser.Parse(yaml);
    if (!parsed.IsValid)
    {
        Console.Error.WriteLine($"{name} does not parse: {string.Join("; ", parsed.Errors.Take(3))}");
        return 1;
    }
    var run = new RunContext(new JsonObject { ["event_name"] = "workflow_dispatch" }, [], []);
    var jobs = 0;
    var baseline = Measure(iterations, () => new YamlStream().Load(new StringReader(yaml)));
    var parse = Measure(iterations, () => parser.Parse(yaml));
    var plan = Measure(iterations, () =>
    {
        jobs = 0;
        foreach (var template in Planner.Templates(parsed.Workflow!))
        {
            jobs += Planner.Expand(template, run, []).Jobs.Count;
        }
    });
    var both = Measure(iterations, () =>
    {
        var p = parser.Parse(yaml);
        foreach (var template in Planner.Templates(p.Workflow!)) Planner.Expand(template, run, []);
    });
    result[name] = new JsonObject
    {
        ["lines"] = yaml.Count(c => c == '\n'),
        ["bytes"] = Encoding.UTF8.GetByteCount(yaml),
        ["planned_jobs"] = jobs,
        ["baseline_yaml_load"] = baseline,
        ["parse"] = parse,
        ["plan"] = plan,
        ["parse_and_plan"] = both,
        ["parse_and_plan_vs_baseline"] = Math.Round(both["median_ms"]!.GetValue<double>() / baseline["median_ms"]!.GetValue<double>(), 2),
    };
}
// Bad input is refused in bounded time: how long the parser takes to say no.
var rejected = new JsonObject();
foreach (var (name, yaml) in new (string, string)[] { ("billion_laughs", BillionLaughs()), ("ten_megabytes", "jobs:\n" + new string('x', 10 * 1024 * 1024)), ("deep_nesting", "jobs: " + new string('[', 100_000)) })
{
    var errors = parser.Parse(yaml).Errors;
    rejected[name] = new JsonObject { ["error"] = errors.Count > 0 ? errors[0].ToString() : "(accepted!)", ["parse"] = Measure(Math.Max(10, iterations / 10), () => parser.Parse(yaml)) };
}
result["rejected"] = rejected;
Console.WriteLine(result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
return 0;

static string BillionLaughs()
{
    var b = new StringBuilder("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (var i = 1; i < 10; i++)
    {
        b.Append(CultureInfo.InvariantCulture, $"a{i}: &a{i} [").Append(string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 10))).Append("]\n");
    }
    return b.Append("jobs: { x: { steps: [{ run: *a9 }] } }\n").ToString();
}

static JsonObject Measure(int iterations, Action action)
{
    // Warm-up: at least 50 calls and 2 s, so that tiered compilation has finished (its tier-1 code arrives
    // from a background thread after ~30 calls plus a delay) and the figures are steady-state.
    var warm = Stopwatch.StartNew();
    for (var i = 0; i < 50 || warm.Elapsed < TimeSpan.FromSeconds(2); i++) action();
    GC.Collect();
    GC.WaitForPendingFinalizers();
    var times = new double[iterations];
    var bytes = new long[iterations];
    for (var i = 0; i < iterations; i++)
    {
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var started = Stopwatch.GetTimestamp();
        action();
        times[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        bytes[i] = GC.GetAllocatedBytesForCurrentThread() - allocated;
    }
    Array.Sort(times);
    Array.Sort(bytes);
    return new JsonObject
    {
        ["median_ms"] = Math.Round(times[iterations / 2], 3),
        ["p95_ms"] = Math.Round(times[(int)(iterations * 0.95)], 3),
        ["allocated_kb"] = Math.Round(bytes[iterations / 2] / 1024.0, 1),
    };
}

// A 16×16 matrix (256 jobs, GitHub's maximum) with 20 steps per job, each using the matrix.
static string MatrixWorkflow()
{
    var b = new StringBuilder();
    b.AppendLine("name: matrix bench\non: [push]\nenv:\n  GLOBAL: one\njobs:\n  build:\n    runs-on: [self-hosted, linux]");
    b.AppendLine("    name: build ${{ matrix.a }}-${{ matrix.b }}\n    strategy:\n      fail-fast: false\n      matrix:");
    b.AppendLine("        a: [" + string.Join(", ", Enumerable.Range(1, 16)) + "]");
    b.AppendLine("        b: [" + string.Join(", ", Enumerable.Range(1, 16).Select(i => "v" + i)) + "]");
    b.AppendLine("    steps:");
    for (var s = 1; s <= 20; s++)
    {
        b.AppendLine(CultureInfo.InvariantCulture, $"      - name: step {s} on ${{{{ matrix.a }}}}");
        b.AppendLine(CultureInfo.InvariantCulture, $"        if: ${{{{ success() && matrix.b != 'none' }}}}");
        b.AppendLine(CultureInfo.InvariantCulture, $"        env:\n          PART: ${{{{ matrix.a }}}}-{s}");
        b.AppendLine(CultureInfo.InvariantCulture, $"        run: ./build.sh --part $PART --flavour ${{{{ matrix.b }}}}");
    }
    return b.ToString();
}

// About N lines: many jobs with needs chains, env, if, several steps.
static string LongWorkflow(int lines)
{
    var b = new StringBuilder();
    b.AppendLine("name: long bench\non:\n  push:\n    branches: [main]\n  pull_request: {}\njobs:");
    var job = 0;
    while (b.ToString().Count(c => c == '\n') < lines)
    {
        b.AppendLine(CultureInfo.InvariantCulture, $"  job{job}:");
        b.AppendLine("    runs-on: self-hosted");
        if (job > 0) b.AppendLine(CultureInfo.InvariantCulture, $"    needs: [job{job - 1}]");
        b.AppendLine(CultureInfo.InvariantCulture, $"    if: ${{{{ github.event_name == 'push' || contains(github.ref, 'job{job}') }}}}");
        b.AppendLine("    env:\n      LEVEL: ${{ github.run_number }}\n    steps:");
        for (var s = 0; s < 5; s++)
        {
            b.AppendLine(CultureInfo.InvariantCulture, $"      - name: step {s}\n        run: |\n          echo job {job} step {s}\n          make target-{s}");
        }
        job++;
    }
    return b.ToString();
}
