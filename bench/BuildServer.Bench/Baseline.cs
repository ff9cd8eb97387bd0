using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace BuildServer.Bench;

/// <summary>
/// The physical floor, measured from the bench process itself in the same run: what it costs to fork/exec
/// the commands a job runs, with no server in between. The server's figures are reported as ratios of these.
/// </summary>
internal static class Baseline
{
    /// <summary>The shell executor's process chain for one step (ShellExecution.StartInfo, since 0a20d5c):
    /// setsid execs one bash on the script file, which first sources the BASH_ENV preamble that merges stderr
    /// into stdout.</summary>
    private static string[] ServerChain(string script) =>
        ["setsid", "bash", "--noprofile", "--norc", "-eo", "pipefail", script];

    /// <summary>The chain before 0a20d5c: an outer bash that set up 2&gt;&amp;1 and exec'd the step's bash.</summary>
    private static string[] TwoBashChain(string script) =>
        ["setsid", "bash", "--noprofile", "--norc", "-c", "exec bash --noprofile --norc -eo pipefail \"$0\" 2>&1", script];

    private static string? _preamble;

    public static async Task<JsonObject> RunAsync(Options o, string workDir, CancellationToken ct)
    {
        var dateScript = Path.Combine(workDir, "date.sh");
        var trueScript = Path.Combine(workDir, "true.sh");
        await File.WriteAllTextAsync(dateScript, "date +%s.%N\n", ct);
        await File.WriteAllTextAsync(trueScript, "true\n", ct);
        _preamble = Path.Combine(workDir, ".stderr-to-stdout.sh");
        await File.WriteAllTextAsync(_preamble, "exec 2>&1; unset BASH_ENV\n", ct);
        var noise = new NoiseWindow(() => ProcCpu.Own().Total);
        var result = new JsonObject
        {
            ["chain_note"] = "server_chain_* = the shell executor's step chain since 0a20d5c (setsid bash -eo pipefail step.sh, BASH_ENV preamble); two_bash_chain_* = the chain before",
            ["method"] = "sequential Process.Start from the bench (.NET, like the server), stdin/stdout/stderr redirected; " +
                         "2 warm-up runs dropped; wall = Start -> exit reaped; cpu = the bench's own + reaped children's utime+stime per exec",
            ["bin_true"] = await SequentialAsync(["/bin/true"], o.BaselineRuns, false, ct),
            ["bash_c_true"] = await SequentialAsync(["bash", "--noprofile", "--norc", "-c", "true"], o.BaselineRuns, false, ct),
            ["date"] = await SequentialAsync(["date", "+%s.%N"], o.BaselineRuns, true, ct),
            ["server_chain_true"] = await SequentialAsync(ServerChain(trueScript), o.BaselineRuns, false, ct),
            ["server_chain_date"] = await SequentialAsync(ServerChain(dateScript), o.BaselineRuns, true, ct),
            ["two_bash_chain_date"] = await SequentialAsync(TwoBashChain(dateScript), o.BaselineRuns, true, ct),
        };
        var parallelN = Math.Clamp(o.Burst, 40, 400);
        result["server_chain_true_parallel"] = await ParallelAsync(ServerChain(trueScript), parallelN, o.Concurrency, ct);
        result["host_cpu"] = noise.Finish();
        return result;
    }

    private static ProcessStartInfo Info(string[] argv)
    {
        var info = new ProcessStartInfo(argv[0])
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in argv.Skip(1)) info.ArgumentList.Add(a);
        if (argv is ["setsid", "bash", _, _, "-eo", ..] && _preamble is not null) info.Environment["BASH_ENV"] = _preamble;
        return info;
    }

    /// <summary>Runs argv once; returns (wall seconds, printed Unix time or null, client time just before start).</summary>
    private static async Task<(double Wall, double? Printed, double Before)> OnceAsync(string[] argv, CancellationToken ct)
    {
        var info = Info(argv);
        var before = Clock.UnixNow();
        var start = Stopwatch.GetTimestamp();
        using var p = Process.Start(info) ?? throw new BenchException($"cannot start {argv[0]}");
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct);
        var wall = Clock.Since(start);
        var text = await stdout;
        await stderr;
        if (p.ExitCode != 0) throw new BenchException($"{string.Join(' ', argv)} exited {p.ExitCode}");
        double? printed = double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null;
        return (wall, printed, before);
    }

    private static async Task<JsonObject> SequentialAsync(string[] argv, int runs, bool printsTime, CancellationToken ct)
    {
        for (var i = 0; i < 2; i++) await OnceAsync(argv, ct); // warm-up
        var walls = new List<double>();
        var pickups = new List<double>();
        var cpu0 = ProcCpu.Own();
        for (var i = 0; i < runs; i++)
        {
            var (wall, printed, before) = await OnceAsync(argv, ct);
            walls.Add(wall);
            if (printsTime && printed is { } t) pickups.Add(t - before);
        }
        var cpu1 = ProcCpu.Own();
        var r = new JsonObject
        {
            ["argv"] = string.Join(' ', argv),
            ["wall_ms"] = Stats.SummaryMs(walls),
            ["cpu_ms_per_exec_parent"] = Math.Round(1000 * (cpu1.Self - cpu0.Self) / Math.Max(1, runs), 2),
            ["cpu_ms_per_exec_children"] = Math.Round(1000 * (cpu1.Children - cpu0.Children) / Math.Max(1, runs), 2),
        };
        if (printsTime)
        {
            r["start_to_command_ran_ms"] = Stats.SummaryMs(pickups);
        }
        Log.Info($"baseline {argv[0]} {string.Join(' ', argv.Skip(1).Take(3))}: wall p50 {r["wall_ms"]?["p50"]} ms" +
                 (printsTime ? $", ran after p50 {r["start_to_command_ran_ms"]?["p50"]} ms" : ""));
        return r;
    }

    /// <summary>The most runs/s the machine gives the step chain at <paramref name="parallel"/> at once.</summary>
    private static async Task<JsonObject> ParallelAsync(string[] argv, int n, int parallel, CancellationToken ct)
    {
        var next = -1;
        var cpu0 = ProcCpu.Own();
        var start = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, parallel).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Increment(ref next) < n)
            {
                await OnceAsync(argv, ct);
            }
        }, ct)));
        var wall = Clock.Since(start);
        var cpu1 = ProcCpu.Own();
        var r = new JsonObject
        {
            ["argv"] = string.Join(' ', argv),
            ["n"] = n,
            ["parallel"] = parallel,
            ["wall_s"] = Math.Round(wall, 3),
            ["per_s"] = Math.Round(n / wall, 1),
            ["cpu_ms_per_exec_parent"] = Math.Round(1000 * (cpu1.Self - cpu0.Self) / n, 2),
            ["cpu_ms_per_exec_children"] = Math.Round(1000 * (cpu1.Children - cpu0.Children) / n, 2),
        };
        Log.Info($"baseline step chain x{parallel} in parallel: {r["per_s"]}/s");
        return r;
    }
}
