using System.Reflection;

namespace BuildServer.Modules.Hosting;

/// <summary>What this build is: its version (server and agent are the same binary) and the agent protocol it speaks.</summary>
public static class BuildInfo
{
    public static readonly string Version =
        (Assembly.GetEntryAssembly() ?? typeof(BuildInfo).Assembly).GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            .Split('+')[0] ?? "0.0.0";

    /// <summary>The agent protocol version (docs/agents.md): a server refuses agents of another one, and they it.</summary>
    public const int AgentProtocol = 1;
}
