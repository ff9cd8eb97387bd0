using System.Security.Cryptography.X509Certificates;

namespace BuildServer.Modules.Https;

/// <summary>
/// The certificate the HTTPS listener presents, loaded (or, the first time, created) once per process.
/// Thread-safe; every member is null when HTTPS is disabled (<c>Https:Url</c> empty or <c>off</c>).
/// </summary>
public interface IServerCertificate
{
    /// <summary>The address agents are told to use (<c>Https:PublicUrl</c>, else <c>Https:Url</c>).</summary>
    Uri? PublicUrl { get; }

    X509Certificate2? Certificate { get; }

    /// <summary>SHA-256 of the DER certificate, upper-case hex pairs joined by colons (as <c>openssl x509 -fingerprint -sha256</c>).</summary>
    string? Fingerprint { get; }
}
