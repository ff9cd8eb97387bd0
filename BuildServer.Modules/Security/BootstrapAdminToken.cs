using BuildServer.Modules.Hosting;
using BuildServer.Modules.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace BuildServer.Modules.Security;

/// <summary>
/// On the first start (no API token exists yet) creates an admin token, prints it once and writes it to
/// <c>data/initial-admin-token</c> (mode 0600) so an administrator can reach the API.
/// </summary>
internal sealed class BootstrapAdminToken(
    IServiceScopeFactory scopes, DataDirectory data, TimeProvider time, ILogger<BootstrapAdminToken> logger) : IHostedService
{
    public const string FileName = "initial-admin-token";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BuildDb>();
        if (await db.Set<ApiToken>().AnyAsync(cancellationToken))
        {
            return;
        }
        var secret = TokenSecrets.NewSecret(TokenSecrets.ApiTokenPrefix);
        db.Add(new ApiToken
        {
            Name = "initial-admin",
            Hash = TokenSecrets.Hash(secret),
            Prefix = secret[..8],
            Role = Roles.Admin,
            CreatedAt = time.GetUtcNow(),
        });
        await db.SaveChangesAsync(cancellationToken);

        var path = data.Combine(FileName);
        await using (var file = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        await using (var writer = new StreamWriter(file))
        {
            await writer.WriteLineAsync(secret);
        }
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Console.WriteLine($"Initial admin API token (shown once, also in {path}):{Environment.NewLine}{secret}");
        logger.LogWarning("Created the initial admin API token; it is in {Path} (mode 0600). Keep it secret.", path);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
