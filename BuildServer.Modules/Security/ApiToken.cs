using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Security;

/// <summary>An API token. Only the SHA-256 of the secret is stored; the secret is shown once, at creation.</summary>
internal sealed class ApiToken
{
    public long Id { get; set; }
    public required string Name { get; set; }
    public required string Hash { get; set; }
    /// <summary>The first characters of the secret, so an admin can tell tokens apart without the secret.</summary>
    public required string Prefix { get; set; }
    public required string Role { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }

    public static void Configure(ModelBuilder model) => model.Entity<ApiToken>(e =>
    {
        e.ToTable("api_tokens");
        e.HasIndex(t => t.Hash).IsUnique();
        e.Property(t => t.Name).HasMaxLength(200);
        e.Property(t => t.Hash).HasMaxLength(64);
        e.Property(t => t.Prefix).HasMaxLength(16);
        e.Property(t => t.Role).HasMaxLength(32);
    });
}

public static class Roles
{
    public const string Admin = "admin";
}
