using System.Net;
using System.Net.Sockets;

namespace BuildServer.Tests.Infrastructure;

/// <summary>
/// Loopback ports for servers the tests start. A port asked of the kernel (bind to 0) comes from the ephemeral
/// range, which outgoing connections draw from too: in the seconds between asking and the server's bind, a client
/// socket of a parallel test (HTTP, PostgreSQL, an agent's long-poll) could take it, and the server would fail
/// with "address already in use". So the ports come from below that range, each handed out once per test run,
/// and only when nothing listens on them at the moment of asking.
/// </summary>
public static class Ports
{
    private const int First = 20000;
    private const int Last = 32000;   // ip_local_port_range starts at 32768 on Linux
    private static int _next = First + Random.Shared.Next(0, 2000) - 1;

    /// <summary>A loopback port outside the ephemeral range, free at the moment of asking, never handed out twice.</summary>
    public static int Free()
    {
        while (true)
        {
            var port = Interlocked.Increment(ref _next);
            if (port > Last)
            {
                throw new InvalidOperationException($"No free loopback port left between {First} and {Last}.");
            }
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // Taken by something outside the tests: the next one.
            }
        }
    }
}
