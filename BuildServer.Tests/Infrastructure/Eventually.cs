using System.Diagnostics;

namespace BuildServer.Tests.Infrastructure;

/// <summary>Awaits an eventual outcome by polling with a deadline: never a bare sleep.</summary>
public static class Eventually
{
    public static async Task<T> Until<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan timeout, string what, TimeSpan? every = null)
    {
        var clock = Stopwatch.StartNew();
        T last = await probe();
        while (!done(last))
        {
            if (clock.Elapsed > timeout)
            {
                Assert.Fail($"Timed out after {timeout.TotalSeconds:0.#} s waiting for {what}; last value: {Describe(last)}");
            }
            await Task.Delay(every ?? TimeSpan.FromMilliseconds(50));
            last = await probe();
        }
        return last;
    }

    public static Task Until(Func<bool> condition, TimeSpan timeout, string what) =>
        Until(() => Task.FromResult(condition()), x => x, timeout, what);

    private static string Describe<T>(T value) => value switch
    {
        null => "null",
        System.Text.Json.Nodes.JsonNode node => node.ToJsonString()[..Math.Min(node.ToJsonString().Length, 2000)],
        _ => value.ToString() ?? "",
    };
}
