using BuildServer.Modules.Runs;
using BuildServer.Modules.Scheduling;
using BuildServer.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace BuildServer.Tests.Scheduling;

/// <summary>
/// Server nodes on one PostgreSQL tell each other when a run's attempts change (NOTIFY after the commit), so an
/// attempt queued on one node is claimable on another at once, not at the next periodic rebuild of its view.
/// </summary>
public sealed class RunChangeListenerTests
{
    private const string Workflow = "on: workflow_dispatch\njobs:\n  build:\n    steps: [{run: 'true'}]\n";

    [Test]
    public async Task AttemptQueuedOnNodeA_IsClaimableOnNodeB_WithoutARebuild()
    {
        await using var nodeA = await ModuleHarness.StartAsync(Db.Postgres);
        await using var nodeB = await nodeA.StartNodeAsync();
        var project = await nodeA.CreateProjectAsync("p");
        var runner = await nodeA.CreateRunnerAsync("b");
        var listenerA = Listener(nodeA);
        var listenerB = Listener(nodeB);
        await listenerA.StartAsync(CancellationToken.None);
        await listenerB.StartAsync(CancellationToken.None);
        try
        {
            var wake = nodeB.Services.GetRequiredService<IDispatchSignal>().NextPulse;
            Assert.That(await nodeB.ClaimAsync(runner), Is.Null, "node B knows of nothing yet");

            var run = await nodeA.TriggerAsync(project, Workflow);

            await Eventually.Until(() => wake.IsCompleted, TimeSpan.FromSeconds(10), "node B's idle slots to be woken");
            var claim = await Eventually.Until(() => nodeB.ClaimAsync(runner), c => c is not null, TimeSpan.FromSeconds(10), "node B to claim the attempt");
            Assert.That(claim!.RunId, Is.EqualTo(run.Id));
            Assert.That(await nodeB.CompleteAsync(claim.AttemptId, new AttemptOutcome(Status.Succeeded, 0)), Is.True);

            // Node A still held the attempt as waiting (claims are not announced); its finish is, and A lets go of it.
            var viewA = nodeA.Services.GetRequiredService<ReadyAttempts>();
            await Eventually.Until(() => viewA.Count == 0, TimeSpan.FromSeconds(10), "node A's view to drop the finished attempt");
        }
        finally
        {
            await listenerB.StopAsync(CancellationToken.None);
            await listenerA.StopAsync(CancellationToken.None);
        }
    }

    private static RunChangeListener Listener(ModuleHarness node) =>
        node.Services.GetServices<IHostedService>().OfType<RunChangeListener>().Single();
}
