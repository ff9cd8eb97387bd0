using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace BuildServer.Modules.Https;

/// <summary>The one way a certificate's fingerprint is written, so that the log, the API and an agent's pin agree.</summary>
public static class CertificateFingerprint
{
    public static string Sha256(X509Certificate certificate) =>
        string.Join(':', Convert.ToHexString(certificate.GetCertHash(HashAlgorithmName.SHA256)).Chunk(2).Select(c => new string(c)));

    /// <summary>True if <paramref name="pin"/> names this certificate: case, colons and spaces do not matter.</summary>
    public static bool Matches(X509Certificate certificate, string pin) =>
        string.Equals(Normalize(Sha256(certificate)), Normalize(pin), StringComparison.OrdinalIgnoreCase);

    private static string Normalize(string fingerprint) =>
        new([.. fingerprint.Where(Uri.IsHexDigit)]);
}
