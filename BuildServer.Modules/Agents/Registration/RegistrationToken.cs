using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Agents;

/// <summary>
/// Lets an agent register itself. Only the SHA-256 of the secret is stored; the secret is shown once, at creation.
/// A one-time token is spent by its first successful registration; a reusable one until it expires or is revoked.
/// </summary>
internal sealed class RegistrationToken
{
    public const string SecretPrefix = "bsr_";

    public long Id { get; set; }
    public required string Hash { get; set; }
    /// <summary>The first characters of the secret, so an admin can tell tokens apart without the secret.</summary>
    public required string Prefix { get; set; }
    /// <summary>Agents registered with it belong to this organisation; null = global.</summary>
    public long? OrgId { get; set; }
    public bool Reusable { get; set; }
    public DateTimeOffset? ExpiresAt { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
    public int UsedCount { get; set; }
    public DateTimeOffset? LastUsedAt { get; set; }

    public static void Configure(ModelBuilder model) => model.Entity<RegistrationToken>(e =>
    {
        e.ToTable("registration_tokens");
        e.HasIndex(t => t.Hash).IsUnique();
        e.Property(t => t.Hash).HasMaxLength(64);
        e.Property(t => t.Prefix).HasMaxLength(16);
    });
}
