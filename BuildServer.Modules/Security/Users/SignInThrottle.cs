using System.Net;
using System.Threading.RateLimiting;

namespace BuildServer.Modules.Security.Users;

/// <summary>
/// Slows down password guessing on the sign-in form: failed sign-ins are counted per user name and per client address
/// in fixed windows (<see cref="Window"/>); once either count is used up, sign-ins for that name or from that address
/// are refused until the window ends, without checking the password. A success is not counted. The counters live in
/// this process (each node of a cluster counts its own) and idle ones are dropped by the rate limiter.
/// </summary>
internal sealed class SignInThrottle : IDisposable
{
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(15);
    public const int FailuresPerUserName = 10;
    public const int FailuresPerAddress = 50;

    private readonly PartitionedRateLimiter<Attempt> _failures = PartitionedRateLimiter.CreateChained(
        PartitionedRateLimiter.Create<Attempt, string>(a => Partition("user:" + a.UserName, FailuresPerUserName)),
        PartitionedRateLimiter.Create<Attempt, string>(a => Partition("address:" + a.Address, FailuresPerAddress)));

    /// <summary>How long until a sign-in may be tried again; null when it may be tried now.</summary>
    public TimeSpan? RetryAfter(string userName, IPAddress? address)
    {
        // Asking for no permit only tells whether any is left; nothing is counted.
        using var lease = _failures.AttemptAcquire(Key(userName, address), 0);
        if (lease.IsAcquired) return null;
        return lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : Window;
    }

    /// <summary>Counts a failed sign-in against the name and the address.</summary>
    public void Failed(string userName, IPAddress? address)
    {
        using var _ = _failures.AttemptAcquire(Key(userName, address));
    }

    private static Attempt Key(string userName, IPAddress? address) =>
        new(UserAccounts.Normalize(userName), address?.ToString() ?? "unknown");

    private static RateLimitPartition<string> Partition(string key, int failures) =>
        RateLimitPartition.GetFixedWindowLimiter(key, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = failures,
            Window = Window,
            QueueLimit = 0,
            AutoReplenishment = true,
        });

    public void Dispose() => _failures.Dispose();

    internal readonly record struct Attempt(string UserName, string Address);
}
