using BuildServer.Modules.Web.Components;

namespace BuildServer.Modules.Runs.Ui;

/// <summary>How the pages write a run's ref, sha and duration.</summary>
internal static class RunText
{
    /// <summary>"main" for refs/heads/main, "tag v1" for refs/tags/v1, "—" for none.</summary>
    public static string Branch(string? gitRef) => gitRef switch
    {
        null or "" => "—",
        _ when gitRef.StartsWith("refs/heads/", StringComparison.Ordinal) => gitRef["refs/heads/".Length..],
        _ when gitRef.StartsWith("refs/tags/", StringComparison.Ordinal) => "tag " + gitRef["refs/tags/".Length..],
        _ => gitRef,
    };

    public static string ShortSha(string sha) => sha[..Math.Min(7, sha.Length)];

    /// <summary>From its start to its end (or now, while it runs); "—" before it starts.</summary>
    public static string Duration(RunSummary run, DateTimeOffset now) => run.StartedAt is { } started
        ? TimeText.Duration((run.FinishedAt ?? now) - started)
        : "—";
}

/// <summary>
/// A page's periodic reload while it is open in its circuit (a prerender renders once): the dashboard's way. The tick
/// runs on the component's dispatcher; an exception in it becomes the circuit's error, as one in a handler would.
/// </summary>
internal static class PageRefresh
{
    public static async Task RunAsync(TimeSpan every, TimeProvider time, Func<Task> tick, Func<Exception, Task> fail, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(every, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                await tick();
            }
        }
        catch (OperationCanceledException)
        {
            // The page was closed.
        }
        catch (Exception e)
        {
            await fail(e);
        }
    }
}
