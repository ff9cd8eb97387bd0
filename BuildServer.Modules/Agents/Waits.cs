namespace BuildServer.Modules.Agents;

/// <summary>The agent side's and the protocol's one way to wait for a wake-up, a pause or a long poll.</summary>
internal static class Waits
{
    /// <summary>Awaits <paramref name="wait"/>; false when it timed out or was cancelled (the caller's loop looks again,
    /// or sees the cancellation).</summary>
    public static async Task<bool> QuietlyAsync(Task wait)
    {
        try
        {
            await wait;
            return true;
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            return false;
        }
    }
}
