using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using BuildServer.Modules.Hosting;
using Microsoft.Extensions.Logging;

namespace BuildServer.Modules.Https;

/// <summary>
/// Loads the configured certificate, or the self-signed one of the data folder (creating it on the first start),
/// when the host resolves it at start-up, and logs its fingerprint every time. A missing file or a wrong
/// password becomes an <see cref="InvalidOperationException"/> whose message is one line naming the setting.
/// </summary>
internal sealed class ServerCertificate : IServerCertificate
{
    public ServerCertificate(HttpsSettings settings, DataDirectory data, TimeProvider time, ILogger<ServerCertificate> logger)
    {
        if (settings.Url is null)
        {
            logger.LogInformation("HTTPS is off (Https:Url).");
            return;
        }
        PublicUrl = settings.PublicUrl;
        Certificate = Load(settings, data, time, logger, out var source);
        Fingerprint = CertificateFingerprint.Sha256(Certificate);
        logger.LogInformation(
            "HTTPS on {Url} (agents use {PublicUrl}) with {Source}, valid until {NotAfter:yyyy-MM-dd}. SHA-256 fingerprint: {Fingerprint}. " +
            "An agent pins it with: buildserver agent --server {PublicUrl} --ca-fingerprint {Fingerprint}",
            Display(settings.Url), Display(PublicUrl), source, Certificate.NotAfter.ToUniversalTime(), Fingerprint, Display(PublicUrl), Fingerprint);
        if (Certificate.NotAfter.ToUniversalTime() < time.GetUtcNow().UtcDateTime)
        {
            logger.LogWarning("The HTTPS certificate ({Source}) expired on {NotAfter:yyyy-MM-dd}.", source, Certificate.NotAfter.ToUniversalTime());
        }
    }

    public Uri? PublicUrl { get; }
    public X509Certificate2? Certificate { get; }
    public string? Fingerprint { get; }

    private static X509Certificate2 Load(HttpsSettings settings, DataDirectory data, TimeProvider time, ILogger logger, out string source)
    {
        if (settings.PfxPath is { } pfx)
        {
            source = "the certificate " + pfx;
            return Read("Https:Certificate:Path", pfx, () => X509CertificateLoader.LoadPkcs12FromFile(pfx, settings.PfxPassword));
        }
        if (settings.PemPath is { } pem)
        {
            source = "the certificate " + pem;
            return Read("Https:Certificate:PemPath", pem, () => X509Certificate2.CreateFromPemFile(pem, settings.KeyPath));
        }
        var path = data.Combine(SelfSignedCertificate.FileName);
        source = "the self-signed certificate " + path;
        if (File.Exists(path))
        {
            return Read("the self-signed certificate", path, () => X509CertificateLoader.LoadPkcs12FromFile(path, password: null));
        }
        string[] hosts = [.. new[] { settings.Url, settings.PublicUrl }.OfType<Uri>().Select(u => u.IdnHost)];
        using (var created = SelfSignedCertificate.Create(hosts, time.GetUtcNow()))
        {
            SelfSignedCertificate.Save(created, path);
        }
        logger.LogWarning("Created a self-signed HTTPS certificate in {Path} (mode 0600); it is reused on later starts.", path);
        return X509CertificateLoader.LoadPkcs12FromFile(path, password: null);
    }

    private static X509Certificate2 Read(string setting, string path, Func<X509Certificate2> load)
    {
        if (!File.Exists(path))
        {
            throw new InvalidOperationException($"{setting}: no certificate file at {Path.GetFullPath(path)}.");
        }
        try
        {
            var certificate = load();
            if (!certificate.HasPrivateKey)
            {
                throw new InvalidOperationException($"{setting}: {path} holds no private key.");
            }
            return certificate;
        }
        catch (CryptographicException e)
        {
            throw new InvalidOperationException($"{setting}: cannot read {path} ({OneLine(e.Message)}); check the file and its password.", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new InvalidOperationException($"{setting}: cannot open {path} ({OneLine(e.Message)}).", e);
        }
    }

    private static string? Display(Uri? url) => url?.ToString().TrimEnd('/');

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim().TrimEnd('.');
}
