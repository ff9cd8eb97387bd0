using System.Diagnostics;
using Npgsql;

namespace BuildServer.Tests.Infrastructure;

/// <summary>
/// A private PostgreSQL for the test run: <c>initdb</c> + <c>pg_ctl</c> on a temporary folder, listening on
/// 127.0.0.1 only, stopped (and removed) when the run ends. With <c>BUILDSERVER_TEST_POSTGRES</c> set to a
/// connection string, that server is used instead. Missing binaries fail the tests; they never skip.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private readonly string? _folder;
    private readonly string? _binaries;

    private PostgresServer(string adminConnectionString, string? folder, string? binaries)
    {
        AdminConnectionString = adminConnectionString;
        _folder = folder;
        _binaries = binaries;
    }

    public string AdminConnectionString { get; }

    public static async Task<PostgresServer> StartAsync()
    {
        if (Environment.GetEnvironmentVariable("BUILDSERVER_TEST_POSTGRES") is { Length: > 0 } given)
        {
            return new PostgresServer(given, null, null);
        }
        var binaries = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
                .Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderDescending().FirstOrDefault()
            : null;
        if (binaries is null)
        {
            throw new InvalidOperationException(
                "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb). Run tools/test.sh, which installs it, " +
                "or set BUILDSERVER_TEST_POSTGRES to a connection string.");
        }
        var folder = Directory.CreateTempSubdirectory("buildserver-pg-").FullName;
        var port = Ports.Free();
        var asRoot = Environment.UserName == "root";
        if (asRoot)
        {
            await RunAsync("chown", "postgres", folder); // PostgreSQL refuses to run as root
        }
        await RunAsync(binaries, asRoot, "initdb", "-D", Path.Combine(folder, "data"), "-A", "trust", "-U", "postgres", "--no-sync");
        await RunAsync(binaries, asRoot, "pg_ctl", "-D", Path.Combine(folder, "data"), "-l", Path.Combine(folder, "log"), "-w",
            "-o", $"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off -c max_connections=300", "start");
        var server = new PostgresServer($"Host=127.0.0.1;Port={port};Username=postgres;Pooling=false", folder, binaries);
        return server;
    }

    /// <summary>A new, empty database; returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix)
    {
        var name = $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 33, 63)].ToLowerInvariant();
        await using var connection = new NpgsqlConnection(AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await command.ExecuteNonQueryAsync();
        return new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = name, Pooling = true }.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        if (_folder is null || _binaries is null)
        {
            return;
        }
        await RunAsync(_binaries, Environment.UserName == "root", "pg_ctl", "-D", Path.Combine(_folder, "data"), "-m", "immediate", "-w", "stop");
        Directory.Delete(_folder, recursive: true);
    }


    private static Task RunAsync(string binaries, bool asPostgres, string tool, params string[] args) =>
        asPostgres
            ? RunAsync("runuser", ["-u", "postgres", "--", Path.Combine(binaries, tool), .. args])
            : RunAsync(Path.Combine(binaries, tool), args);

    private static async Task RunAsync(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}: {await error}{await output}");
        }
    }
}
