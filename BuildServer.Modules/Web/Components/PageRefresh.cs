namespace BuildServer.Modules.Web.Components;

/// <summary>
/// A page's periodic reload while it is open in its circuit (a prerender renders once): the dashboard's way. The tick
/// runs on the component's dispatcher; an exception in it becomes the circuit's error, as one in a handler would.
/// </summary>
public static class PageRefresh
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
