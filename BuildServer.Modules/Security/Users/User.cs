using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Security.Users;

/// <summary>A person who signs in to the web UI. The password is stored only as ASP.NET Core Identity's
/// <see cref="Microsoft.AspNetCore.Identity.PasswordHasher{TUser}"/> hash (PBKDF2 with a salt, versioned).</summary>
internal sealed class User
{
    public long Id { get; set; }
    public required string UserName { get; set; }

    /// <summary>The user name upper-cased (invariant), unique: "Alice" and "alice" are one account.</summary>
    public required string NormalizedUserName { get; set; }
    public required string PasswordHash { get; set; }

    /// <summary>May do everything, in every organisation (the first user, made by the setup page, is one).</summary>
    public bool IsServerAdmin { get; set; }
    public bool PrefersDarkMode { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public List<OrgMembership> Memberships { get; set; } = [];

    public static void Configure(ModelBuilder model)
    {
        model.Entity<User>(e =>
        {
            e.ToTable("users");
            e.HasIndex(u => u.NormalizedUserName).IsUnique();
            e.Property(u => u.UserName).HasMaxLength(100);
            e.Property(u => u.NormalizedUserName).HasMaxLength(100);
            e.Property(u => u.PasswordHash).HasMaxLength(200);
        });
        model.Entity<OrgMembership>(e =>
        {
            e.ToTable("org_memberships");
            e.HasKey(m => new { m.UserId, m.OrgId });
            e.HasOne(m => m.User).WithMany(u => u.Memberships).HasForeignKey(m => m.UserId).OnDelete(DeleteBehavior.Cascade);
            // The organisation is the Projects module's; only its id is kept here (no foreign key across modules).
            e.HasIndex(m => m.OrgId);
            e.Property(m => m.Role).HasConversion(r => r.ToWire(), s => OrgRoles.FromWire(s)).HasMaxLength(16);
        });
    }
}

/// <summary>A user's role in one organisation.</summary>
internal sealed class OrgMembership
{
    public long UserId { get; set; }
    public User? User { get; set; }
    public long OrgId { get; set; }
    public OrgRole Role { get; set; }
}
