using System.Globalization;

namespace BuildServer.Bench;

/// <summary>
/// Settings: environment variables <c>BENCH_*</c>, each overridable by an argument <c>--name value</c>
/// (<c>--lat-runs 10</c> sets <c>BENCH_LAT_RUNS</c>). See bench/README.md.
/// </summary>
internal sealed class Options
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    public Options(string[] args)
    {
        foreach (var key in Environment.GetEnvironmentVariables().Keys.OfType<string>().Where(k => k.StartsWith("BENCH_", StringComparison.Ordinal)))
        {
            _values[key] = Environment.GetEnvironmentVariable(key) ?? "";
        }
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                throw new BenchException($"unexpected argument '{args[i]}' (use --name value, e.g. --burst 200)");
            }
            _values["BENCH_" + args[i][2..].Replace('-', '_').ToUpperInvariant()] = args[++i];
        }
        Repo = Path.GetFullPath(Get("BENCH_REPO", FindRepo()));
        Burst = Int("BENCH_BURST", 1000);
        LatencyRuns = Int("BENCH_LAT_RUNS", 30);
        LatencyGap = Double("BENCH_LAT_GAP", 0.3);
        LatencyWarmUp = Int("BENCH_LAT_WARMUP", 2);
        Concurrency = Int("BENCH_CONCURRENCY", 4);
        Slots = Int("BENCH_SLOTS", 4);
        BaselineRuns = Int("BENCH_BASELINE_RUNS", 30);
        Restarts = Int("BENCH_STARTS", 5);
        WaitIdle = Double("BENCH_WAIT_IDLE", 30);
        RetryNoisy = Int("BENCH_RETRY_NOISY", 1);
        BurstTimeout = Double("BENCH_BURST_TIMEOUT", 600);
        Keep = Get("BENCH_KEEP", "0") == "1";
        Postgres = Get("BENCH_POSTGRES", "") is { Length: > 0 } pg ? pg : null;
        ServerDll = Get("BENCH_SERVER_DLL", Path.Combine(Repo, "BuildServer", "bin", "Release", "net10.0", "buildserver.dll"));
        SingleFile = Get("BENCH_SINGLE_FILE", Path.Combine(Repo, "publish", "buildserver"));
        Main = Get("BENCH_MAIN", "dll");
        if (Main is not ("dll" or "single_file")) throw new BenchException("BENCH_MAIN is dll or single_file");
        BuildbotJson = Get("BENCH_BUILDBOT_JSON", "") is { Length: > 0 } bb ? bb : null;
        Phases = Get("BENCH_PHASES", "baseline,startup,latency,burst")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
        var unknown = Phases.Except(["baseline", "startup", "latency", "burst"]).ToList();
        if (unknown.Count > 0) throw new BenchException($"unknown phase(s): {string.Join(", ", unknown)}");
    }

    public string Repo { get; }
    public int Burst { get; }
    public int LatencyRuns { get; }
    public double LatencyGap { get; }
    public int LatencyWarmUp { get; }
    public int Concurrency { get; }
    public int Slots { get; }
    public int BaselineRuns { get; }
    public int Restarts { get; }
    public double WaitIdle { get; }
    public int RetryNoisy { get; }
    public double BurstTimeout { get; }
    public bool Keep { get; }
    public string? Postgres { get; }
    public string ServerDll { get; }
    public string SingleFile { get; }
    public string? BuildbotJson { get; }
    /// <summary>Which build the latency and burst phases drive: dll (default) or single_file.</summary>
    public string Main { get; }
    public IReadOnlySet<string> Phases { get; }

    public string Provider => Postgres is null ? "sqlite" : "postgres";

    /// <summary>The switches every server start gets (quiet logs, the slot count, the database).</summary>
    public IReadOnlyList<string> ServerArgs()
    {
        var args = new List<string>
        {
            "--Serilog:MinimumLevel:Default=Warning",
            $"--Agent:Slots={Slots}",
        };
        if (Postgres is not null)
        {
            args.Add("--Database:Provider=Postgres");
            args.Add("--Database:ConnectionString=" + Postgres);
        }
        return args;
    }

    private string Get(string key, string fallback) => _values.TryGetValue(key, out var v) && v.Length > 0 ? v : fallback;

    private int Int(string key, int fallback) => int.Parse(Get(key, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

    private double Double(string key, double fallback) => double.Parse(Get(key, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

    private static string FindRepo()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "BuildServer.sln"))) return dir.FullName;
        }
        return Directory.GetCurrentDirectory();
    }
}
