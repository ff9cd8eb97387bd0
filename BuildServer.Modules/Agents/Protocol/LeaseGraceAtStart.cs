using BuildServer.Modules.Persistence;
using BuildServer.Modules.Runs;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BuildServer.Modules.Agents.Protocol;

/// <summary>
/// Static stability on the server's side: while the server was down, remote agents could not renew their leases, yet
/// their jobs ran on. At start, the leases of remote agents' running attempts get one more <c>Runs:Lease</c>, so the
/// agents have time to reconnect and deliver before the reconciler would declare their attempts lost.
/// </summary>
internal sealed class LeaseGraceAtStart(IServiceScopeFactory scopes, TimeProvider time, IOptions<RunsOptions> runs, ILogger<LeaseGraceAtStart> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BuildDb>();
        var until = time.GetUtcNow() + runs.Value.Lease;
        var remote = db.Set<Runner>().Where(r => r.Kind == RunnerKinds.Remote).Select(r => (long?)r.Id);
        await using var gate = await scope.ServiceProvider.GetRequiredService<WriteGate>().EnterAsync(cancellationToken);
        var extended = await db.Set<JobAttempt>().Where(a => a.Status == Status.Running && remote.Contains(a.RunnerId))
            .ExecuteUpdateAsync(s => s.SetProperty(a => a.LeaseExpiresAt, until), cancellationToken);
        if (extended > 0)
        {
            logger.LogInformation("{Count} attempt(s) of remote agents were running when the server stopped; their agents have until {Until} to report back",
                extended, until);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
