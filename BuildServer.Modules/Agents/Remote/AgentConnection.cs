using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using BuildServer.Modules.Https;

namespace BuildServer.Modules.Agents.Remote;

/// <summary>
/// The HTTPS client of a remote agent, with how it trusts the server: a pinned certificate fingerprint
/// (<c>--ca-fingerprint</c>: the server's certificate, or one of its chain, must have that SHA-256; host names are not
/// checked, the pin is stronger), a CA certificate (<c>--ca-cert</c>: the chain must end there and the name match), or
/// else the system's trust store. Plain HTTP only to a loopback address, or when explicitly allowed.
/// </summary>
internal sealed class AgentConnection : IDisposable
{
    private readonly string? _pin;
    private readonly X509Certificate2? _ca;

    public AgentConnection(Uri server, string? pin, string? caCertificatePath, bool allowInsecureHttp)
    {
        if (server.Scheme == Uri.UriSchemeHttp && !server.IsLoopback && !allowInsecureHttp)
        {
            throw new AgentSetupException($"{server} is plain HTTP to another machine: the agent token would travel in clear. " +
                                          "Use the server's https:// address (or --allow-insecure-http on a network you trust).");
        }
        _pin = string.IsNullOrWhiteSpace(pin) ? null : pin;
        if (caCertificatePath is not null)
        {
            try
            {
                _ca = X509CertificateLoader.LoadCertificateFromFile(caCertificatePath);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
            {
                throw new AgentSetupException($"--ca-cert {caCertificatePath}: cannot be read as a certificate ({e.Message}).");
            }
        }
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(10),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            PooledConnectionLifetime = TimeSpan.FromMinutes(10),
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = Validate },
        };
        Http = new HttpClient(handler)
        {
            BaseAddress = new Uri(server.ToString().TrimEnd('/') + "/"),
            Timeout = Timeout.InfiniteTimeSpan, // each call sets its own
        };
        Http.DefaultRequestHeaders.UserAgent.ParseAdd($"BuildServer-Agent/{Protocol.AgentWire.Version}");
    }

    public HttpClient Http { get; }

    /// <summary>The fingerprint of the certificate the server last showed, when the pin refused it.</summary>
    public string? RefusedFingerprint { get; private set; }

    private bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null) return false;
        if (_pin is not null)
        {
            if (CertificateFingerprint.Matches(certificate, _pin)
                || (chain?.ChainElements.Any(e => CertificateFingerprint.Matches(e.Certificate, _pin)) ?? false))
            {
                return true;
            }
            RefusedFingerprint = CertificateFingerprint.Sha256(certificate);
            return false;
        }
        if (_ca is not null)
        {
            if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch)) return false;
            using var custom = new X509Chain();
            custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            custom.ChainPolicy.CustomTrustStore.Add(_ca);
            custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            using var leaf = new X509Certificate2(certificate);
            return custom.Build(leaf);
        }
        return errors == SslPolicyErrors.None;
    }

    public void Dispose()
    {
        Http.Dispose();
        _ca?.Dispose();
    }
}

/// <summary>The agent cannot start as asked; the message is the one line the user sees.</summary>
public sealed class AgentSetupException(string message) : Exception(message);
