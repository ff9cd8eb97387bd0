using System.Globalization;
using System.Text.Json.Serialization;
using BuildServer.Modules.Scheduling;

namespace BuildServer.Modules.Runs.Waiting;

/// <summary>
/// Why a job does not run now, as data (the <c>kind</c> says which; the other members depend on it) and as one
/// sentence (<see cref="Describe"/>). <see cref="ShownAs"/> gives the status the API shows the job with: a queued
/// attempt held back by its organisation's quota is shown <c>pending</c>, although its row stays <c>queued</c>.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(NeedsWait), "needs")]
[JsonDerivedType(typeof(MatrixSlotWait), "matrix_slot")]
[JsonDerivedType(typeof(OrgQuotaWait), "org_quota")]
[JsonDerivedType(typeof(LanePositionWait), "lane_position")]
[JsonDerivedType(typeof(NoAgentWait), "no_agent")]
[JsonDerivedType(typeof(ConcurrencyWait), "concurrency")]
[JsonDerivedType(typeof(RetryBackoffWait), "retry_backoff")]
[JsonDerivedType(typeof(DispatchingWait), "dispatching")]
[JsonDerivedType(typeof(OtherWait), "other")]
[JsonDerivedType(typeof(NotWaiting), "not_waiting")]
public abstract record WaitReason
{
    public abstract string Describe();

    public virtual Status ShownAs() => Status.Pending;
}

/// <summary>A job it needs, and that job's status now (for a matrix: its least advanced combination).</summary>
public sealed record NeedState(string Key, Status Status);

/// <summary>Waiting for the jobs it needs to finish (all of them are listed; the sentence names the unfinished ones).</summary>
public sealed record NeedsWait(IReadOnlyList<NeedState> Needs) : WaitReason
{
    public override string Describe()
    {
        var open = Needs.Where(n => !n.Status.IsFinished()).ToList();
        return open.Count == 0
            ? "Its needs have finished; it is about to be admitted."
            : "Waiting for needs: " + string.Join(", ", open.Select(n => $"{n.Key} ({n.Status.ToWire()})")) + ".";
    }
}

/// <summary>A matrix combination beyond <c>max-parallel</c>: <paramref name="Running"/> of its siblings run or are queued.</summary>
public sealed record MatrixSlotWait(int MaxParallel, int Running) : WaitReason
{
    public override string Describe() => $"Waiting for a free matrix slot: {Running} of max-parallel {MaxParallel} in use.";
}

/// <summary>Queued, but its organisation runs as many jobs as its quota allows.</summary>
public sealed record OrgQuotaWait(string Org, int Running, int MaxRunning) : WaitReason
{
    public override string Describe() => $"Org '{Org}' is at its quota: {Running} of {MaxRunning} jobs running.";
}

/// <summary>Queued; <paramref name="Position"/> of <paramref name="InLane"/> in its lane, in arrival order (fair
/// share between organisations decides who of them goes first).</summary>
public sealed record LanePositionWait(Lane Lane, int Position, int InLane) : WaitReason
{
    public override string Describe() => $"Position {Position} of {InLane} in lane {Lane.ToWire()}.";

    public override Status ShownAs() => Status.Queued;
}

/// <summary>Queued, but no online runner has all of <paramref name="Labels"/>; <paramref name="OfflineMatching"/>
/// registered runners that are offline would.</summary>
public sealed record NoAgentWait(IReadOnlyList<string> Labels, int OfflineMatching) : WaitReason
{
    public override string Describe()
    {
        var who = Labels.Count == 0 ? "No agent is online" : $"No online agent has labels [{string.Join(", ", Labels)}]";
        var offline = OfflineMatching switch
        {
            0 => "no registered agent would match",
            1 => "1 offline agent would match",
            var n => $"{n} offline agents would match",
        };
        return $"{who}; {offline}.";
    }

    public override Status ShownAs() => Status.Queued;
}

/// <summary>Its run waits for its concurrency group, held by run <paramref name="HeldByRunNumber"/> (null: the
/// holder has just finished, and the group is about to pass on).</summary>
public sealed record ConcurrencyWait(string Group, long? HeldByRunId, long? HeldByRunNumber) : WaitReason
{
    public override string Describe() => HeldByRunNumber is { } number
        ? $"Concurrency group '{Group}' is held by run #{number.ToString(CultureInfo.InvariantCulture)}."
        : $"Waiting for concurrency group '{Group}' to be free.";
}

/// <summary>Attempt <paramref name="Attempt"/> (a retry) waits out its backoff until <paramref name="Until"/>.</summary>
public sealed record RetryBackoffWait(int Attempt, DateTimeOffset Until) : WaitReason
{
    public override string Describe() => $"Retry backoff until {Until.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)}.";
}

/// <summary>Queued in the database, but not (or no longer) in this server's scheduler view: being claimed right
/// now, or queued by another server node and seen here at the next rebuild of the view.</summary>
public sealed record DispatchingWait : WaitReason
{
    public override string Describe() => "Queued; being handed to an agent.";

    public override Status ShownAs() => Status.Queued;
}

/// <summary>Pending for a reason none of the others describes; <paramref name="Detail"/> is the job's own status reason.</summary>
public sealed record OtherWait(string? Detail) : WaitReason
{
    public override string Describe() => Detail is { Length: > 0 } d ? $"Pending: {d}." : "Pending.";
}

/// <summary>The job does not wait: it runs, or has finished (<paramref name="Status"/>).</summary>
public sealed record NotWaiting(Status Status) : WaitReason
{
    public override string Describe() => Status == Status.Running
        ? "Not waiting: the job is running."
        : $"Not waiting: the job has finished ({Status.ToWire()}).";

    public override Status ShownAs() => Status;
}

/// <summary>A job and why it waits: the answer of <c>GET /api/v1/jobs/{id}/wait-reason</c> and an item of <c>GET /api/v1/queue</c>.</summary>
/// <param name="Status">As the API shows it (see <see cref="WaitReason.ShownAs"/>).</param>
/// <param name="Message">The reason in one sentence.</param>
public sealed record JobWait(
    long JobId, long RunId, long RunNumber, string Project, string Org, string Key, string Name, Lane Lane,
    Status Status, WaitReason Reason, string Message);
