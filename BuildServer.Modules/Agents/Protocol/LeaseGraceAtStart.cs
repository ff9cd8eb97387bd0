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
/// agents have time to reconnect and deliver before the reconciler would declare their attempts lost. The reconciler
/// judges no lease until that is done (<see cref="LeaseGrace"/>: held from the host's start, which builds this service
/// before starting any, so also before Hangfire's server runs a reconcile).
/// </summary>
internal sealed class LeaseGraceAtStart : IHostedService
{
    private readonly IServiceScopeFactory _scopes;
    private readonly LeaseGrace _grace;
    private readonly IOptions<RunsOptions> _runs;
    private readonly ILogger<LeaseGraceAtStart> _logger;

    public LeaseGraceAtStart(IServiceScopeFactory scopes, LeaseGrace grace, IOptions<RunsOptions> runs, ILogger<LeaseGraceAtStart> logger)
    {
        (_scopes, _grace, _runs, _logger) = (scopes, grace, runs, logger);
        grace.Hold();
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await ExtendAsync(cancellationToken);
        }
        finally
        {
            _grace.Release();
        }
    }

    private async Task ExtendAsync(CancellationToken cancellationToken)
    {
        await using var scope = _scopes.CreateAsyncScope();
        var remote = await scope.ServiceProvider.GetRequiredService<BuildDb>().Set<Runner>()
            .Where(r => r.Kind == RunnerKinds.Remote).Select(r => r.Id).ToListAsync(cancellationToken);
        var extended = await scope.ServiceProvider.GetRequiredService<IRunnerAttempts>().ExtendLeasesAsync(remote, cancellationToken);
        if (extended > 0)
        {
            _logger.LogInformation("{Count} attempt(s) of remote agents were running when the server stopped; their agents have {Lease} to report back",
                extended, _runs.Value.Lease);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
