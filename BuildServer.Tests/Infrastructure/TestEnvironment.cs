using BuildServer.Tests.Infrastructure;

namespace BuildServer.Tests;

/// <summary>Starts what the whole test run shares (PostgreSQL; Docker on first use) once, and stops it at the end.</summary>
[SetUpFixture]
public sealed class TestEnvironment
{
    private static PostgresServer? _postgres;

    public static PostgresServer Postgres => _postgres ?? throw new InvalidOperationException("PostgreSQL was not started.");

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        if (!File.Exists(Repository.ServerDll))
        {
            Assert.Fail($"The server binary {Repository.ServerDll} is missing; build the solution first.");
        }
        _postgres = await PostgresServer.StartAsync();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await DockerEngine.StopSharedAsync();
        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }
    }
}
