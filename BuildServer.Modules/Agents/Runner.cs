using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Agents;

/// <summary>The kinds of runner: the server's own in-process agent, or an agent registered over the API.</summary>
internal static class RunnerKinds
{
    public const string BuiltIn = "builtin";
    public const string Remote = "remote";
}

/// <summary>An agent known to the server. The built-in agent of each server node is a runner too.</summary>
internal sealed class Runner
{
    public long Id { get; set; }
    public required string Name { get; set; }
    public required string Kind { get; set; }
    public List<string> Labels { get; set; } = [];
    public int Slots { get; set; }
    public string? Version { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? LastSeenAt { get; set; }

    /// <summary>The organisation whose registration token registered it; null for a global agent and the built-in one.</summary>
    public long? OrgId { get; set; }

    /// <summary>SHA-256 of a remote agent's token (the token itself is shown once, at registration); null for the built-in agent.</summary>
    public string? TokenHash { get; set; }

    /// <summary>A disabled agent's token is refused at once; it takes no work until enabled again.</summary>
    public bool Disabled { get; set; }

    /// <summary>A draining agent finishes its running jobs and takes no new ones.</summary>
    public bool Draining { get; set; }

    public static void Configure(ModelBuilder model) => model.Entity<Runner>(e =>
    {
        e.ToTable("runners");
        e.HasIndex(r => r.Name).IsUnique();
        e.Property(r => r.Name).HasMaxLength(200);
        e.Property(r => r.Kind).HasMaxLength(16);
        e.Property(r => r.Version).HasMaxLength(64);
        e.Property(r => r.TokenHash).HasMaxLength(64);
        e.HasIndex(r => r.TokenHash).IsUnique();
    });
}

/// <summary>The <c>Agent</c> section of appsettings.json: the server's built-in agent.</summary>
public sealed class BuiltInAgentOptions
{
    /// <summary>Concurrent jobs; 0 turns the built-in agent off (remote agents only).</summary>
    public int Slots { get; set; } = 4;

    /// <summary>Must be stable per server node and unique among nodes; defaults to <c>builtin@&lt;host&gt;#&lt;hash of the data folder&gt;</c>.</summary>
    public string? Name { get; set; }

    // An array, not a list: the configuration binder replaces arrays but appends to lists.
    public string[] Labels { get; set; } = ["self-hosted", "linux", "x64", "builtin"];

    /// <summary>How long an idle slot's acquire waits for a wake-up before it looks for work anyway (a safety net, not
    /// the pickup path; a remote agent's long poll is 30 s).</summary>
    public TimeSpan IdleRecheck { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the executor removes what attempts the agent no longer runs left behind (containers whose
    /// removal failed); leftovers of a crash are removed at the next start anyway.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(60);
}
