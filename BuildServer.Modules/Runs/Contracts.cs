using BuildServer.Modules.Pipelines.Planning;

namespace BuildServer.Modules.Runs;

/// <summary>A runner (agent) as the run lifecycle knows it.</summary>
/// <param name="OrgId">An organisation's own agent runs only that organisation's jobs; null for a global agent.</param>
public sealed record RunnerRef(long Id, string Name, IReadOnlySet<string> Labels, long? OrgId = null);

/// <summary>An attempt a runner has claimed, with all it needs to execute it: the job's spec (fixed when the
/// job was expanded, so a later edit of the pipeline changes nothing) and what its expressions see.</summary>
public sealed record ClaimedAttempt(
    long AttemptId,
    int Number,
    long JobId,
    string JobKey,
    long RunId,
    long RunNumber,
    string Project,
    string? Ref,
    string? Sha,
    JobSpec Spec,
    JobContext Context,
    IReadOnlyList<long> StepIds)
{
    /// <summary>The claim's lease: it ends here unless the runner renews it.</summary>
    public DateTimeOffset LeaseExpiresAt { get; init; }

    /// <summary>When the attempt times out (its claim plus the job's timeout); null without a timeout.</summary>
    public DateTimeOffset? TimeoutAt { get; init; }
}

/// <param name="Outputs">The job's outputs (<c>needs.&lt;job&gt;.outputs</c> of its dependents), when it ran to its end.</param>
public sealed record AttemptOutcome(Status Status, int? ExitCode = null, string? Reason = null, IReadOnlyDictionary<string, string>? Outputs = null);

/// <summary>How one step ended, and where its output ends in the attempt's log.</summary>
public sealed record StepReport(long StepId, AttemptOutcome Outcome, long LogEnd);

/// <summary>
/// The Runs module's contract for agents: claim an attempt, report its progress, finish it.
/// Every call is idempotent and guarded: a report for an attempt that has already finished (or was
/// superseded by a newer attempt) changes nothing and returns false.
/// </summary>
public interface IAttemptLifecycle
{
    /// <summary>Claims the oldest queued attempt whose runs-on labels the runner has, by an atomic
    /// conditional update, and marks it (and its job and run) started in the same transaction; null when
    /// there is none. A runner must check <see cref="IsCancelRequestedAsync"/> once it watches for cancels.</summary>
    Task<ClaimedAttempt?> TryClaimAsync(RunnerRef runner, CancellationToken cancellationToken);

    /// <summary>True once someone asked to cancel the attempt (its run, or its job, for example by fail-fast).</summary>
    Task<bool> IsCancelRequestedAsync(long attemptId, CancellationToken cancellationToken);

    Task StartStepAsync(long stepId, long logStart, CancellationToken cancellationToken);

    Task FinishStepAsync(long stepId, AttemptOutcome outcome, long logEnd, CancellationToken cancellationToken);

    /// <summary>Finishes the attempt, derives its job's status, admits or skips dependent jobs, and finishes
    /// the run when every job has. A <see cref="Status.Lost"/> attempt is retried as a new attempt while the
    /// job has attempts left. <paramref name="lastStep"/> (the step that ended last, not yet reported) is
    /// written in the same transaction; steps that never ran become skipped (cancelled, if the attempt was),
    /// and a step still marked running becomes cancelled.</summary>
    Task<bool> CompleteAttemptAsync(long attemptId, AttemptOutcome outcome, StepReport? lastStep, CancellationToken cancellationToken);

    /// <summary>The runner is alive: the leases of the attempts it runs are extended by <c>Runs:Lease</c> from now.
    /// A runner calls it well within the lease (the built-in agent every <c>Agent:Heartbeat</c>); an attempt whose
    /// lease expires is declared lost by the reconciler.</summary>
    Task<int> RenewLeasesAsync(long runnerId, CancellationToken cancellationToken);

    /// <summary>Renews only the leases of <paramref name="attemptIds"/> (the attempts the runner says it still runs):
    /// an attempt it has forgotten (it restarted) keeps its lease, which expires, and the attempt is declared lost.</summary>
    Task<int> RenewLeasesAsync(long runnerId, IReadOnlyCollection<long> attemptIds, CancellationToken cancellationToken);

    /// <summary>Declares lost every attempt the runner was running (the runner restarted or died).</summary>
    Task<int> RecoverRunnerAsync(long runnerId, string reason, CancellationToken cancellationToken);
}

/// <summary>Carries "cancel this attempt" from the API to the agent slot running it in this process.</summary>
public interface IAttemptCancellation
{
    /// <summary>A token cancelled when the attempt is; call <see cref="Release"/> when the attempt ends.</summary>
    CancellationToken Watch(long attemptId);

    void Release(long attemptId);

    void Cancel(long attemptId);
}

/// <summary>Who holds an attempt and how it stands, for checking an agent's report about it; <paramref name="StepId"/>
/// is the id of the step asked for with it (null if none was asked for, or the attempt has no such step).</summary>
public sealed record AttemptHolder(long RunId, long? RunnerId, Status Status, string? FailureReason, long? StepId = null);

/// <summary>An attempt's latest transition: where it went, who moved it (<c>runner:&lt;id&gt;</c>, <c>reconciler</c>...), why.</summary>
public sealed record AttemptTransition(Status To, string Actor, string? Reason);

/// <summary>An attempt a runner runs, and whether someone asked to cancel it (or its run).</summary>
public sealed record RunnerAttempt(long AttemptId, bool CancelRequested);

/// <summary>The Runs module's read side for the agent protocol: what an agent may report on, and its running work.</summary>
public interface IRunnerAttempts
{
    /// <summary>The attempt, and with it the id of its step <paramref name="stepIndex"/> when one is asked for (one read).</summary>
    Task<AttemptHolder?> FindAsync(long attemptId, int? stepIndex, CancellationToken cancellationToken);

    Task<AttemptTransition?> LastTransitionAsync(long attemptId, CancellationToken cancellationToken);

    /// <summary>Those of <paramref name="attemptIds"/> that are running on the runner.</summary>
    Task<IReadOnlyList<RunnerAttempt>> RunningAsync(long runnerId, IReadOnlyCollection<long> attemptIds, CancellationToken cancellationToken);

    /// <summary>Renews (one more <c>Runs:Lease</c> from now) the leases of those of <paramref name="attemptIds"/> still running;
    /// the caller has checked each is the runner's that vouches for it (<see cref="RunningAsync"/>).</summary>
    Task<int> RenewLeasesAsync(IReadOnlyCollection<long> attemptIds, CancellationToken cancellationToken);

    /// <summary>Gives the running attempts of these runners one more <c>Runs:Lease</c> from now.</summary>
    Task<int> ExtendLeasesAsync(IReadOnlyCollection<long> runnerIds, CancellationToken cancellationToken);
}
