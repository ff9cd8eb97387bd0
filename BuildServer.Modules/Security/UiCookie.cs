using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http;

namespace BuildServer.Modules.Security;

/// <summary>
/// The web UI's cookie sign-in, beside the bearer tokens of the API. Which one a request is judged by is decided by
/// <see cref="Select"/>: the API (<c>/api/…</c>) and any request carrying an <c>Authorization</c> header use the
/// bearer schemes exactly as before; pages use the cookie.
/// </summary>
public static class UiCookie
{
    public const string SchemeName = CookieAuthenticationDefaults.AuthenticationScheme;
    public const string SelectorName = "BuildServer";
    public const string SignInPath = "/signin";
    public const string SetupPath = "/setup";
    public const string SignOutPath = "/signout";
    internal const string CookieName = "buildserver.session";

    internal static string Select(HttpContext context)
    {
        var request = context.Request;
        if (request.Headers.Authorization.Count > 0 || request.Path.StartsWithSegments("/api"))
        {
            return ApiTokenAuthentication.SchemeName;
        }
        // The Hangfire dashboard answers 401 to an anonymous caller (as the API does); a signed-in admin's cookie opens it.
        if (request.Path.StartsWithSegments("/hangfire") && !request.Cookies.ContainsKey(CookieName))
        {
            return ApiTokenAuthentication.SchemeName;
        }
        return SchemeName;
    }

    internal static void Configure(CookieAuthenticationOptions options)
    {
        options.Cookie.Name = CookieName;
        options.Cookie.HttpOnly = true;
        options.Cookie.SameSite = SameSiteMode.Lax;
        options.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        options.LoginPath = SignInPath;
        options.LogoutPath = SignOutPath;
        options.AccessDeniedPath = "/forbidden";
        options.ExpireTimeSpan = TimeSpan.FromHours(12);
        options.SlidingExpiration = true;
        options.Events.OnValidatePrincipal = Users.RemovedUsers.ValidateAsync;
    }
}
