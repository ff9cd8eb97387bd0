using System.Reflection;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace BuildServer.Modules.Https;

/// <summary>What an agent or an admin asks before trusting the server: its version, HTTPS address and certificate fingerprint.</summary>
/// <param name="AgentProtocol">The agent protocol version the server speaks; an agent of another one is refused.</param>
public sealed record ServerInfoResponse(string Version, string? HttpsUrl, string? CertificateFingerprint, int AgentProtocol);

internal static class ServerInfo
{
    public static readonly string Version =
        (Assembly.GetEntryAssembly() ?? typeof(ServerInfo).Assembly).GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            .Split('+')[0] ?? "0.0.0";

    public static Ok<ServerInfoResponse> Get(IServerCertificate certificate) =>
        TypedResults.Ok(new ServerInfoResponse(Version, certificate.PublicUrl?.ToString().TrimEnd('/'), certificate.Fingerprint, Agents.Protocol.AgentWire.ProtocolVersion));
}
