using BuildServer.Modules.Scheduling;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace BuildServer.Modules.Runs;

/// <summary>One execution of a pipeline. <see cref="Version"/> is bumped by every change to the run's jobs
/// so that concurrent completions of sibling jobs serialise on the run row.</summary>
internal sealed class Run
{
    public long Id { get; set; }
    public long ProjectId { get; set; }

    /// <summary>The project's organisation when the run was created: whose quota and share its jobs use.</summary>
    public long OrgId { get; set; }
    public long Number { get; set; }
    public required string Name { get; set; }
    public Status Status { get; set; }
    public string? Ref { get; set; }
    public string? Sha { get; set; }
    public required string Pipeline { get; set; }
    public string? InputsJson { get; set; }
    /// <summary>The <see cref="Pipelines.Planning.RunContext"/> (github, inputs, vars) as JSON, fixed at creation.</summary>
    public string ContextJson { get; set; } = "{}";
    public required string TriggeredBy { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    public DateTimeOffset? CancelRequestedAt { get; set; }

    /// <summary>The workflow's <c>concurrency.group</c>, evaluated at creation: at most one run of a project per
    /// group runs at a time; the others wait as <c>pending</c>.</summary>
    public string? ConcurrencyGroup { get; set; }
    public long Version { get; set; }
    public List<Job> Jobs { get; set; } = [];
}

/// <summary>A DAG node of a run: one matrix combination of a workflow job (<see cref="Key"/> is the workflow's
/// job id, shared by matrix siblings; <see cref="Ordinal"/> tells them apart). Its status follows its latest
/// attempt; jobs waiting on needs have no attempt yet. A job with needs is created unexpanded (one row holding
/// <see cref="TemplateJson"/>) and expanded into its matrix when its needs have finished.</summary>
internal sealed class Job
{
    public long Id { get; set; }
    public long RunId { get; set; }
    public Run? Run { get; set; }
    public required string Key { get; set; }
    public int Ordinal { get; set; }
    public required string Name { get; set; }
    public Status Status { get; set; }
    public List<string> Needs { get; set; } = [];
    public List<string> RunsOn { get; set; } = [];
    /// <summary>The job's executable spec (<see cref="Pipelines.Planning.JobSpec"/>) as JSON; null until expanded.</summary>
    public string? SpecJson { get; set; }
    /// <summary>The unexpanded <see cref="Pipelines.Planning.JobTemplate"/> as JSON, while the job waits for its needs.</summary>
    public string? TemplateJson { get; set; }
    /// <summary>The <c>needs</c> context it was admitted with, as JSON.</summary>
    public string? NeedsJson { get; set; }
    /// <summary>Its <c>outputs</c> once finished, as a JSON object of strings.</summary>
    public string? OutputsJson { get; set; }
    public bool ContinueOnError { get; set; }
    public bool FailFast { get; set; }
    public int? MaxParallel { get; set; }

    /// <summary>The lane it waits in: its <c>priority</c> (or the workflow's, or the project's default), capped by the project's highest lane.</summary>
    public Lane Lane { get; set; } = Lane.Normal;

    /// <summary>Its <c>timeout-minutes</c> once expanded: an attempt times out this long after it started (never counting queue time).</summary>
    public double TimeoutMinutes { get; set; } = 360;
    public string? StatusReason { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    public List<JobAttempt> Attempts { get; set; } = [];
}

/// <summary>One try of a job. A retry is a new attempt; an attempt, once finished, is never rewritten.</summary>
internal sealed class JobAttempt
{
    public long Id { get; set; }
    public long JobId { get; set; }
    public Job? Job { get; set; }
    public long RunId { get; set; }
    public Run? Run { get; set; }
    public int Number { get; set; }
    public Status Status { get; set; }
    public long? RunnerId { get; set; }
    public DateTimeOffset? LeaseExpiresAt { get; set; }
    public DateTimeOffset QueuedAt { get; set; }

    /// <summary>A retry waiting out its backoff is <c>pending</c> until this time, then queued.</summary>
    public DateTimeOffset? NotBefore { get; set; }

    /// <summary>When a running attempt times out: its start plus the job's timeout. The agent enforces it; the
    /// server marks the attempt <c>timed_out</c> itself when no result came by this time plus a grace period.</summary>
    public DateTimeOffset? TimeoutAt { get; set; }
    public DateTimeOffset? AssignedAt { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    public int? ExitCode { get; set; }
    public string? FailureReason { get; set; }

    /// <summary>Set when someone (a user, fail-fast) asked to stop this attempt while it was claimed or
    /// running; the agent that runs it checks it once it watches for cancels, so no request is lost.</summary>
    public DateTimeOffset? CancelRequestedAt { get; set; }
    public List<Step> Steps { get; set; } = [];
}

internal sealed class Step
{
    public long Id { get; set; }
    public long AttemptId { get; set; }
    public JobAttempt? Attempt { get; set; }
    public int Index { get; set; }
    public required string Name { get; set; }
    public Status Status { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    public int? ExitCode { get; set; }
    /// <summary>Where this step's output starts in the attempt's log, and (once finished) where it ends.</summary>
    public long LogStart { get; set; }
    public long? LogEnd { get; set; }
}

/// <summary>Every transition of an attempt, with its time and reason: the audit trail of "what happened".</summary>
internal sealed class AttemptEvent
{
    public long Id { get; set; }
    public long AttemptId { get; set; }
    public JobAttempt? Attempt { get; set; }
    public DateTimeOffset At { get; set; }
    public required string Kind { get; set; }
    public Status? From { get; set; }
    public Status To { get; set; }
    public string? Reason { get; set; }
    public required string Actor { get; set; }
}

/// <summary>The last run number given out per project: numbers come from one atomic upsert, never from MAX()+1.</summary>
internal sealed class RunCounter
{
    public long ProjectId { get; set; }
    public long LastNumber { get; set; }
}

internal static class RunsModel
{
    private static readonly ValueConverter<Status, string> StatusText =
        new(s => s.ToWire(), s => StatusExtensions.FromWire(s));

    public static void Configure(ModelBuilder model)
    {
        model.Entity<Run>(e =>
        {
            e.ToTable("runs");
            e.Property(r => r.Status).HasConversion(StatusText).HasMaxLength(16);
            e.HasIndex(r => new { r.ProjectId, r.Number }).IsUnique();
            e.HasIndex(r => r.Status);
            e.Property(r => r.Name).HasMaxLength(200);
            e.Property(r => r.Ref).HasMaxLength(500);
            e.Property(r => r.Sha).HasMaxLength(64);
            e.Property(r => r.TriggeredBy).HasMaxLength(200);
            e.Property(r => r.ConcurrencyGroup).HasMaxLength(400);
            e.HasIndex(r => new { r.ProjectId, r.ConcurrencyGroup, r.Status });
            e.HasMany(r => r.Jobs).WithOne(j => j.Run).HasForeignKey(j => j.RunId).OnDelete(DeleteBehavior.Cascade);
        });
        model.Entity<RunCounter>(e =>
        {
            e.ToTable("run_counters");
            e.HasKey(c => c.ProjectId);
            e.Property(c => c.ProjectId).ValueGeneratedNever();
        });
        model.Entity<Job>(e =>
        {
            e.ToTable("jobs");
            e.Property(j => j.Status).HasConversion(StatusText).HasMaxLength(16);
            e.Property(j => j.Key).HasMaxLength(100);
            e.Property(j => j.Name).HasMaxLength(200);
            e.Property(j => j.Lane).HasConversion(Lanes.Column).HasMaxLength(16);
            e.HasIndex(j => new { j.RunId, j.Key, j.Ordinal }).IsUnique();
            e.HasMany(j => j.Attempts).WithOne(a => a.Job).HasForeignKey(a => a.JobId).OnDelete(DeleteBehavior.Cascade);
        });
        model.Entity<JobAttempt>(e =>
        {
            e.ToTable("job_attempts");
            e.Property(a => a.Status).HasConversion(StatusText).HasMaxLength(16);
            e.HasIndex(a => new { a.JobId, a.Number }).IsUnique();
            // The dispatch query: the oldest queued attempts.
            e.HasIndex(a => new { a.Status, a.Id });
            e.HasIndex(a => new { a.RunnerId, a.Status });
            e.Property(a => a.FailureReason).HasMaxLength(2000);
            e.HasOne(a => a.Run).WithMany().HasForeignKey(a => a.RunId).OnDelete(DeleteBehavior.NoAction);
            e.HasMany(a => a.Steps).WithOne(s => s.Attempt).HasForeignKey(s => s.AttemptId).OnDelete(DeleteBehavior.Cascade);
        });
        model.Entity<Step>(e =>
        {
            e.ToTable("steps");
            e.Property(s => s.Status).HasConversion(StatusText).HasMaxLength(16);
            e.Property(s => s.Name).HasMaxLength(500);
            e.HasIndex(s => new { s.AttemptId, s.Index }).IsUnique();
        });
        model.Entity<AttemptEvent>(e =>
        {
            e.ToTable("attempt_events");
            e.Property(a => a.To).HasConversion(StatusText).HasMaxLength(16);
            e.Property(a => a.From).HasConversion(StatusText).HasMaxLength(16);
            e.Property(a => a.Kind).HasMaxLength(32);
            e.Property(a => a.Actor).HasMaxLength(200);
            e.Property(a => a.Reason).HasMaxLength(2000);
            e.HasIndex(a => a.AttemptId);
            e.HasOne(a => a.Attempt).WithMany().HasForeignKey(a => a.AttemptId).OnDelete(DeleteBehavior.Cascade);
        });
    }
}
