using BuildServer.Modules.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace BuildServer.Modules.Https;

/// <summary>What an agent or an admin asks before trusting the server: its version, HTTPS address and certificate fingerprint.</summary>
/// <param name="AgentProtocol">The agent protocol version the server speaks; an agent of another one is refused.</param>
public sealed record ServerInfoResponse(string Version, string? HttpsUrl, string? CertificateFingerprint, int AgentProtocol);

internal static class ServerInfo
{
    public static Ok<ServerInfoResponse> Get(IServerCertificate certificate) =>
        TypedResults.Ok(new ServerInfoResponse(BuildInfo.Version, certificate.PublicUrl?.ToString().TrimEnd('/'), certificate.Fingerprint, BuildInfo.AgentProtocol));
}
