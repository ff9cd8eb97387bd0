using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace BuildServer.Bench.Scheduler;

/// <summary>
/// A throw-away PostgreSQL for the claim bench: <c>initdb</c> + <c>pg_ctl</c> (as the postgres user when run
/// as root) in a temp folder, on 127.0.0.1 and a free port, default settings (fsync on), stopped and removed
/// on dispose. With <c>BENCH_POSTGRES</c> set, that server is used instead: a new database is created in it.
/// </summary>
internal sealed class PgCluster : IAsyncDisposable
{
    private readonly string? _folder;
    private readonly string? _bin;

    private PgCluster(string admin, string? folder, string? bin, int? postmasterPid)
    {
        (AdminConnectionString, _folder, _bin, PostmasterPid) = (admin, folder, bin, postmasterPid);
    }

    public string AdminConnectionString { get; }

    public int? PostmasterPid { get; }

    public static async Task<PgCluster> StartAsync()
    {
        if (Environment.GetEnvironmentVariable("BENCH_POSTGRES") is { Length: > 0 } given)
        {
            var pid = int.TryParse(Environment.GetEnvironmentVariable("BENCH_POSTGRES_PID"), out var p) ? p : (int?)null;
            return new PgCluster(given, null, null, pid);
        }
        var bin = Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
            .Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderDescending().FirstOrDefault()
            ?? throw new InvalidOperationException("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); set BENCH_POSTGRES.");
        var folder = Directory.CreateTempSubdirectory("bssched-pg-").FullName;
        var port = FreePort();
        if (Environment.UserName == "root") await RunAsync("chown", "postgres", folder);
        var cluster = new PgCluster($"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres", folder, bin, null);
        await cluster.ToolAsync("initdb", "-D", Path.Combine(folder, "data"), "-A", "trust", "-U", "postgres");
        await cluster.ToolAsync("pg_ctl", "-D", Path.Combine(folder, "data"), "-l", Path.Combine(folder, "log"), "-w",
            "-o", $"-c listen_addresses=127.0.0.1 -p {port} -k {folder}", "start");
        var postmaster = int.Parse(File.ReadLines(Path.Combine(folder, "data", "postmaster.pid")).First(), CultureInfo.InvariantCulture);
        return new PgCluster(cluster.AdminConnectionString, folder, bin, postmaster);
    }

    /// <summary>A new, empty database; its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string name)
    {
        await using var connection = new NpgsqlConnection(AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await command.ExecuteNonQueryAsync();
        return new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = name }.ToString();
    }

    /// <summary>CPU seconds of the postmaster and its children (the backends): part of the system under test.</summary>
    public double CpuSeconds()
    {
        if (PostmasterPid is not { } postmaster) return 0;
        var total = MachineLoad.ProcessCpuSeconds(postmaster.ToString(CultureInfo.InvariantCulture), children: true);
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            var pid = Path.GetFileName(dir);
            if (!pid.All(char.IsAsciiDigit)) continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var ppid = stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1];
                if (ppid == postmaster.ToString(CultureInfo.InvariantCulture)) total += MachineLoad.ProcessCpuSeconds(pid);
            }
            catch (IOException)
            {
                // exited meanwhile
            }
        }
        return total;
    }

    public async ValueTask DisposeAsync()
    {
        if (_folder is null) return;
        try
        {
            await ToolAsync("pg_ctl", "-D", Path.Combine(_folder, "data"), "-m", "fast", "-w", "stop");
        }
        finally
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private Task ToolAsync(string tool, params string[] args) =>
        Environment.UserName == "root"
            ? RunAsync("runuser", ["-u", "postgres", "--", Path.Combine(_bin!, tool), .. args])
            : RunAsync(Path.Combine(_bin!, tool), args);

    private static async Task RunAsync(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)}: exit {process.ExitCode}: {await error}{await output}");
    }
}
