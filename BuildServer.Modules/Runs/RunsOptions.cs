using BuildServer.Modules.Pipelines.Workflow;

namespace BuildServer.Modules.Runs;

/// <summary>The <c>Runs</c> section of appsettings.json.</summary>
public sealed class RunsOptions
{
    /// <summary>How many attempts a job gets in all when its attempts are lost (runner died, server restarted),
    /// or its retry policy's number if that is higher.</summary>
    public int MaxAttemptsOnLoss { get; set; } = 2;

    /// <summary>How long a claim is valid without news from the runner: every agent heartbeat (<c>Agents:Heartbeat</c>,
    /// 10 s) renews the leases of the attempts it runs, and the reconciler declares an attempt whose lease expired lost
    /// (then retries it). So 30 s of an agent's silence loses its attempts.</summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The retry policy of jobs whose workflow sets none (<c>retry:</c>): by default a failed or timed-out
    /// job is not retried (one attempt).</summary>
    public RetryDefaults Retry { get; set; } = new();

    /// <summary>The agent enforces a job's <c>timeout-minutes</c> itself (graceful signal, <c>always()</c> steps,
    /// then kill); when no result came this long after the timeout, the server marks the attempt
    /// <c>timed_out</c> on its own. Covers the runtime's cancel time-out (5 min) and the kill grace.</summary>
    public TimeSpan TimeoutGrace { get; set; } = TimeSpan.FromMinutes(6);

    /// <summary>A queued job that no registered agent could ever run (none has all its <c>runs-on</c> labels) fails
    /// after waiting this long, with "no agent has labels [..]".</summary>
    public TimeSpan LabelTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>When the reconciler runs: a cron expression with seconds (Hangfire's Cronos), every 15 s by default.</summary>
    public string Reconcile { get; set; } = "*/15 * * * * *";

    /// <summary>A run not finished although all its jobs are, or a job waiting although its needs have finished,
    /// is repaired by the reconciler once it has been so for this long (a transaction in flight is not a fault).</summary>
    public TimeSpan StuckAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The run page reloads on every change of its run (pushed in the process); this is its safety net, a
    /// reload this often while the run is in progress (also what moves running durations on), and 6 times rarer once it
    /// has finished.</summary>
    public TimeSpan PageRefresh { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>The server's default retry policy (<see cref="RunsOptions.Retry"/>).</summary>
public sealed class RetryDefaults
{
    public int MaxAttempts { get; set; } = 1;
    public Backoff Backoff { get; set; } = Backoff.Exponential;
    public TimeSpan Delay { get; set; } = TimeSpan.FromSeconds(10);
    public TimeSpan Jitter { get; set; } = TimeSpan.FromSeconds(5);

    public RetryPolicy ToPolicy() => new(MaxAttempts, Backoff, Delay, Jitter);
}
