using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace BuildServer.Modules.Https;

/// <summary>
/// The certificate a server without a configured one makes for itself on its first start: ECDSA P-256, valid
/// five years, its names (SAN) the hosts of <c>Https:Url</c> and <c>Https:PublicUrl</c> plus 127.0.0.1, ::1 and
/// localhost. Agents pin it by fingerprint, so the names matter only to tools that check them.
/// </summary>
internal static class SelfSignedCertificate
{
    public const string FileName = "https-certificate.pfx";

    public static readonly TimeSpan Validity = TimeSpan.FromDays(5 * 365);

    public static X509Certificate2 Create(IEnumerable<string> hosts, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=BuildServer", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        foreach (var host in hosts.Append("localhost").Append("127.0.0.1").Append("::1").Distinct(StringComparer.OrdinalIgnoreCase))
        {
            if (IPAddress.TryParse(host, out var ip))
            {
                // A listener on every interface (0.0.0.0, ::) names no address a client would dial.
                if (!ip.Equals(IPAddress.Any) && !ip.Equals(IPAddress.IPv6Any))
                {
                    names.AddIpAddress(ip);
                }
            }
            else
            {
                names.AddDnsName(host);
            }
        }
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false)); // server authentication
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(now.AddMinutes(-5), now.Add(Validity));
    }

    /// <summary>
    /// Writes the certificate with its private key as a PFX (no password: the file's mode 0600 protects it). The
    /// file is created with that mode under a temporary name and renamed, so it is never readable by others and
    /// never half-written.
    /// </summary>
    public static void Save(X509Certificate2 certificate, string path)
    {
        var temporary = path + ".tmp";
        File.Delete(temporary);
        using (var file = new FileStream(temporary, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        {
            file.Write(certificate.Export(X509ContentType.Pfx));
            file.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: false);
    }
}
