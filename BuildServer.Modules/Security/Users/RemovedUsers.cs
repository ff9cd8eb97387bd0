using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer.Modules.Security.Users;

/// <summary>
/// Ends the session of a user who was removed: the cookie is checked against the users table (the answer cached per
/// user for a few seconds, and forgotten at once on this node when the user is removed), and a removed user's cookie is
/// rejected and deleted, so the next page they open is the sign-in page. An open page's circuit keeps the identity it
/// started with until it reconnects; it sees nothing of any organisation meanwhile (the roles are gone with the user).
/// </summary>
internal static class RemovedUsers
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(10);

    public static async Task ValidateAsync(CookieValidatePrincipalContext context)
    {
        if (context.Principal is null || UserClaims.UserId(context.Principal) is not { } id) return;
        var services = context.HttpContext.RequestServices;
        var exists = await services.GetRequiredService<IMemoryCache>().GetOrCreateAsync(Key(id), async entry =>
        {
            entry.AbsoluteExpirationRelativeToNow = CacheFor;
            return await services.GetRequiredService<UserAccounts>().FindAsync(id, context.HttpContext.RequestAborted) is not null;
        });
        if (!exists)
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(UiCookie.SchemeName);
        }
    }

    public static void Forget(IMemoryCache cache, long userId) => cache.Remove(Key(userId));

    private static string Key(long userId) => "user-exists:" + userId.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
