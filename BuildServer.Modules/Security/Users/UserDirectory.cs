using System.Security.Claims;

namespace BuildServer.Modules.Security.Users;

/// <summary>The Security module's contract for the signed-in user: who they are and their preferences.</summary>
public interface IUserDirectory
{
    /// <summary>The signed-in user behind <paramref name="principal"/>; null for anyone else (anonymous, an API token, a deleted user).</summary>
    Task<UserInfo?> CurrentAsync(ClaimsPrincipal principal, CancellationToken cancellationToken);

    Task SetDarkModeAsync(ClaimsPrincipal principal, bool dark, CancellationToken cancellationToken);
}

internal sealed class UserDirectory(UserAccounts accounts) : IUserDirectory
{
    public async Task<UserInfo?> CurrentAsync(ClaimsPrincipal principal, CancellationToken cancellationToken) =>
        UserClaims.UserId(principal) is { } id ? await accounts.FindAsync(id, cancellationToken) : null;

    public async Task SetDarkModeAsync(ClaimsPrincipal principal, bool dark, CancellationToken cancellationToken)
    {
        if (UserClaims.UserId(principal) is { } id)
        {
            await accounts.SetDarkModeAsync(id, dark, cancellationToken);
        }
    }
}
