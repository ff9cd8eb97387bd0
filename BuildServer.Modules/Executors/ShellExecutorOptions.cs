namespace BuildServer.Modules.Executors;

/// <summary>The <c>Executors:Shell</c> section of appsettings.json.</summary>
public sealed class ShellExecutorOptions
{
    /// <summary>Between the graceful SIGTERM and the SIGKILL of a cancelled step's process group.</summary>
    public TimeSpan KillGrace { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Keep an attempt's work folder after it ends (for debugging); off by default.</summary>
    public bool KeepWorkspaces { get; set; }
}
