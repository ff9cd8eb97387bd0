using System.Data;
using System.Data.Common;
using BuildServer.Modules.Persistence;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Security.Users;

/// <summary>A signed-in user as the UI knows them.</summary>
public sealed record UserInfo(long Id, string UserName, bool IsServerAdmin, bool PrefersDarkMode);

public enum SetupOutcome
{
    Created,
    /// <summary>A user exists already: the setup page works only on an empty server.</summary>
    AlreadySetUp,
}

/// <summary>Local accounts: the first admin (setup), password checks, new users, preferences.</summary>
internal sealed class UserAccounts(BuildDb db, WriteGate gate, TimeProvider time)
{
    private static readonly PasswordHasher<User> Hasher = new();

    // A hash to verify against when the user name is unknown, so that the answer takes as long as for a known one.
    private static readonly string UnknownUserHash = Hasher.HashPassword(new User { UserName = "", NormalizedUserName = "", PasswordHash = "" }, Guid.NewGuid().ToString());

    public Task<bool> AnyAsync(CancellationToken ct) => db.Set<User>().AnyAsync(ct);

    /// <summary>Creates the first user, a server admin, only while no user exists. The check and the insert are one
    /// serializable transaction, so two setups racing (or two server nodes) cannot both succeed. PostgreSQL may refuse
    /// either of two racing transactions, even before the other commits: the refused one is tried again, and then
    /// finds the winner's user (or, if the winner failed, creates its own).</summary>
    public async Task<SetupOutcome> CreateFirstAdminAsync(string userName, string password, CancellationToken ct)
    {
        const int Attempts = 10;
        await using (await gate.EnterAsync(ct))
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await using var transaction = await db.Database.BeginTransactionAsync(IsolationLevel.Serializable, ct);
                    if (await db.Set<User>().AnyAsync(ct))
                    {
                        return SetupOutcome.AlreadySetUp;
                    }
                    db.Add(NewUser(userName, password, isServerAdmin: true));
                    await db.SaveChangesAsync(ct);
                    await transaction.CommitAsync(ct);
                    return SetupOutcome.Created;
                }
                catch (Exception e) when (attempt < Attempts && IsSerializationFailure(e))
                {
                    db.ChangeTracker.Clear();
                }
            }
        }
    }

    /// <summary>PostgreSQL's "could not serialize access" (40001) or a deadlock (40P01), however EF wraps it (a
    /// DbUpdateException, inside the provider's "transient failure" InvalidOperationException).</summary>
    internal static bool IsSerializationFailure(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is DbException { SqlState: "40001" or "40P01" }) return true;
        }
        return false;
    }

    /// <summary>The user when the password is theirs; null otherwise (unknown name or wrong password alike).</summary>
    public async Task<UserInfo?> VerifyAsync(string userName, string password, CancellationToken ct)
    {
        var normalized = Normalize(userName);
        var user = await db.Set<User>().FirstOrDefaultAsync(u => u.NormalizedUserName == normalized, ct);
        if (user is null)
        {
            Hasher.VerifyHashedPassword(new User { UserName = "", NormalizedUserName = "", PasswordHash = "" }, UnknownUserHash, password);
            return null;
        }
        var result = Hasher.VerifyHashedPassword(user, user.PasswordHash, password);
        if (result == PasswordVerificationResult.Failed)
        {
            return null;
        }
        if (result == PasswordVerificationResult.SuccessRehashNeeded)
        {
            user.PasswordHash = Hasher.HashPassword(user, password);
            await using (await gate.EnterAsync(ct))
            {
                await db.SaveChangesAsync(ct);
            }
        }
        return ToInfo(user);
    }

    public Task<UserInfo?> FindAsync(long id, CancellationToken ct) =>
        db.Set<User>().AsNoTracking().Where(u => u.Id == id)
            .Select(u => new UserInfo(u.Id, u.UserName, u.IsServerAdmin, u.PrefersDarkMode)).FirstOrDefaultAsync(ct);

    /// <summary>Creates a user with roles in organisations; null when the name is taken.</summary>
    public async Task<UserInfo?> CreateAsync(string userName, string password, bool isServerAdmin,
        IReadOnlyDictionary<long, OrgRole> roles, CancellationToken ct)
    {
        var normalized = Normalize(userName);
        await using (await gate.EnterAsync(ct))
        {
            if (await db.Set<User>().AnyAsync(u => u.NormalizedUserName == normalized, ct))
            {
                return null;
            }
            var user = NewUser(userName, password, isServerAdmin);
            user.Memberships.AddRange(roles.Select(r => new OrgMembership { OrgId = r.Key, Role = r.Value }));
            db.Add(user);
            await db.SaveChangesAsync(ct);
            return ToInfo(user);
        }
    }

    public async Task SetDarkModeAsync(long userId, bool dark, CancellationToken ct)
    {
        await using (await gate.EnterAsync(ct))
        {
            await db.Set<User>().Where(u => u.Id == userId).ExecuteUpdateAsync(s => s.SetProperty(u => u.PrefersDarkMode, dark), ct);
        }
    }

    /// <summary>The user's roles per organisation, and whether they are a server admin; null for an unknown user.</summary>
    public async Task<(bool IsServerAdmin, Dictionary<long, OrgRole> Roles)?> AccessAsync(long userId, CancellationToken ct)
    {
        var user = await db.Set<User>().AsNoTracking().Where(u => u.Id == userId)
            .Select(u => new { u.IsServerAdmin, Roles = u.Memberships.Select(m => new { m.OrgId, m.Role }).ToList() })
            .FirstOrDefaultAsync(ct);
        return user is null ? null : (user.IsServerAdmin, user.Roles.ToDictionary(r => r.OrgId, r => r.Role));
    }

    /// <summary>Replaces the user's password (hashed as at creation); false for an unknown user.</summary>
    public async Task<bool> SetPasswordAsync(long userId, string password, CancellationToken ct)
    {
        await using (await gate.EnterAsync(ct))
        {
            var user = await db.Set<User>().FirstOrDefaultAsync(u => u.Id == userId, ct);
            if (user is null) return false;
            user.PasswordHash = Hasher.HashPassword(user, password);
            await db.SaveChangesAsync(ct);
            return true;
        }
    }

    internal static string Normalize(string userName) => userName.Trim().ToUpperInvariant();

    private User NewUser(string userName, string password, bool isServerAdmin)
    {
        var user = new User
        {
            UserName = userName.Trim(),
            NormalizedUserName = Normalize(userName),
            PasswordHash = "",
            IsServerAdmin = isServerAdmin,
            CreatedAt = time.GetUtcNow(),
        };
        user.PasswordHash = Hasher.HashPassword(user, password);
        return user;
    }

    private static UserInfo ToInfo(User u) => new(u.Id, u.UserName, u.IsServerAdmin, u.PrefersDarkMode);
}
