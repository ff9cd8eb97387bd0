using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;

namespace BuildServer.Modules.Https;

/// <summary>
/// The addresses the server binds: the HTTP address(es) of <c>Urls</c> (<c>--urls</c>) plus <c>Https:Url</c>.
/// Plain HTTP is refused on any address but loopback unless <c>AllowInsecureHttp</c> is true, because agent
/// and API tokens would cross the network in clear text.
/// </summary>
public static class Listeners
{
    /// <summary>Sets the host's addresses; throws <see cref="InvalidOperationException"/> (one readable line) on a refused one.</summary>
    public static IWebHostBuilder UseBuildServerListeners(this IWebHostBuilder webHost, IConfiguration configuration)
    {
        webHost.UseUrls([.. Addresses(configuration)]);
        return webHost;
    }

    internal static IReadOnlyList<string> Addresses(IConfiguration configuration)
    {
        var settings = HttpsSettings.From(configuration);
        var addresses = (configuration["Urls"] ?? "")
            .Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .ToList();
        foreach (var address in addresses)
        {
            if (address.StartsWith("http://", StringComparison.OrdinalIgnoreCase) && !IsLoopback(address) && !settings.AllowInsecureHttp)
            {
                throw new InvalidOperationException(
                    $"refusing plain HTTP on the non-loopback address {address}: tokens would cross the network unencrypted. " +
                    "Use Https:Url for remote access, or set AllowInsecureHttp=true (--AllowInsecureHttp=true) if this is really wanted.");
            }
        }
        if (settings.Url is { } https && !addresses.Contains(https.GetLeftPart(UriPartial.Authority), StringComparer.OrdinalIgnoreCase))
        {
            addresses.Add(https.GetLeftPart(UriPartial.Authority));
        }
        return addresses;
    }

    private static bool IsLoopback(string address)
    {
        // Kestrel's wildcards (http://*:80, http://+:80) are not valid URIs; they bind every interface.
        if (!Uri.TryCreate(address.Replace("://*", "://any", StringComparison.Ordinal).Replace("://+", "://any", StringComparison.Ordinal),
                UriKind.Absolute, out var uri))
        {
            return false;
        }
        return uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
    }
}
