using Microsoft.Extensions.Configuration;

namespace BuildServer.Modules.Https;

/// <summary>
/// The <c>Https</c> settings: where the HTTPS listener binds (<c>Url</c>; empty or <c>off</c> disables it), the
/// address agents are told (<c>PublicUrl</c>, default <c>Url</c>), and the certificate (a PFX with
/// <c>Certificate:Path</c>/<c>Password</c>, or PEM files with <c>Certificate:PemPath</c>/<c>KeyPath</c>; neither
/// means a self-signed certificate kept in the data folder). <c>AllowInsecureHttp</c> (top level) permits plain
/// HTTP on a non-loopback address.
/// </summary>
internal sealed record HttpsSettings(
    Uri? Url, Uri? PublicUrl, string? PfxPath, string? PfxPassword, string? PemPath, string? KeyPath, bool AllowInsecureHttp)
{
    public const string DefaultUrl = "https://127.0.0.1:8443";

    public static HttpsSettings From(IConfiguration configuration)
    {
        var section = configuration.GetSection("Https");
        var url = ParseUrl(section["Url"] ?? DefaultUrl, "Https:Url");
        var publicUrl = section["PublicUrl"] is { Length: > 0 } p ? ParseUrl(p, "Https:PublicUrl") : url;
        var certificate = section.GetSection("Certificate");
        return new HttpsSettings(
            url,
            publicUrl,
            NullIfEmpty(certificate["Path"]),
            certificate["Password"],
            NullIfEmpty(certificate["PemPath"]),
            NullIfEmpty(certificate["KeyPath"]),
            configuration.GetValue("AllowInsecureHttp", false));
    }

    private static Uri? ParseUrl(string value, string setting)
    {
        if (value.Trim() is "" || value.Trim().Equals("off", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        if (!Uri.TryCreate(value.Trim(), UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps)
        {
            throw new InvalidOperationException($"{setting} must be an https:// address such as https://0.0.0.0:8443 (every interface) or \"off\", not '{value}'.");
        }
        return uri;
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
