namespace BuildServer.Modules.Executors.Docker;

/// <summary>The <c>Executors:Docker</c> section of appsettings.json. Its presence turns the Docker executor on:
/// jobs with <c>container:</c> then run in a container, the others stay on the shell executor.</summary>
public sealed class DockerExecutorOptions
{
    public const string Section = "Executors:Docker";

    /// <summary>The engine's API endpoint (Engine API 1.41 or later).</summary>
    public Uri Endpoint { get; set; } = new("unix:///var/run/docker.sock");

    /// <summary>A job's memory limit when its <c>container.options</c> gives none (<c>512m</c>, <c>2g</c>); null for none.</summary>
    public string? Memory { get; set; } = "2g";

    /// <summary>A job's CPU limit (cores, <c>1.5</c>) when its options give none; null for none.</summary>
    public double? Cpus { get; set; } = 2;

    /// <summary>A job's limit on processes when its options give none; null for none.</summary>
    public long? Pids { get; set; } = 1024;

    /// <summary>The most memory a job may ask for; a job asking more fails, naming the limit.</summary>
    public string? MaxMemory { get; set; } = "8g";

    public double? MaxCpus { get; set; } = 4;

    public long? MaxPids { get; set; } = 8192;

    /// <summary>Whether a job may ask for the host's network (<c>--network host</c>); otherwise jobs have none.</summary>
    public bool AllowHostNetwork { get; set; }

    /// <summary>How long a job's first step waits for its services to be healthy (those with a health check) before
    /// the job fails, naming the service.</summary>
    public TimeSpan ServiceStartTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>The agent's sweep takes only containers and folders older than this: one created this instant
    /// belongs to a job that is starting.</summary>
    public TimeSpan SweepMinAge { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How many containers the agent keeps created and started ahead of the next job, for the images (with the
    /// same limits and container env) jobs used last: a job on its own (no <c>services:</c>, no host network) takes one
    /// instead of waiting for a create and a start. 0 turns it off. A waiting container is an idle shell process.</summary>
    public int WarmContainers { get; set; } = 1;

    /// <summary>Keep an attempt's work folder after it ends (for debugging); off by default.</summary>
    public bool KeepWorkspaces { get; set; }
}
