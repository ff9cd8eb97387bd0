namespace BuildServer.Modules.Runs;

/// <summary>The <c>Runs</c> section of appsettings.json.</summary>
public sealed class RunsOptions
{
    /// <summary>How many attempts a job gets in all when its attempts are lost (runner died, server restarted).</summary>
    public int MaxAttemptsOnLoss { get; set; } = 2;

    /// <summary>How long a claim is valid without news from the runner (renewed by the runner; the reconciler acts on expiry later).</summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromMinutes(2);
}
