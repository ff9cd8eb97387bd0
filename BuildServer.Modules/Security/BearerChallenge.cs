using Microsoft.AspNetCore.Http;

namespace BuildServer.Modules.Security;

/// <summary>The 401 every bearer-token scheme answers with: a <c>WWW-Authenticate: Bearer</c> header and a
/// problem-details body saying which token is wanted.</summary>
public static class BearerChallenge
{
    public static Task WriteAsync(HttpResponse response, string detail)
    {
        response.StatusCode = StatusCodes.Status401Unauthorized;
        response.Headers.WWWAuthenticate = "Bearer";
        return response.WriteAsJsonAsync(new
        {
            type = "https://tools.ietf.org/html/rfc9110#section-15.5.2",
            title = "Unauthorized",
            status = 401,
            detail,
        }, options: null, contentType: "application/problem+json");
    }
}
