using Docker.DotNet;
using Docker.DotNet.Models;

namespace BuildServer.Modules.Executors.Docker;

/// <summary>
/// A job's <c>services:</c>: each a container of its own image (its own entrypoint and command), started after the
/// job container and in its network namespace (<c>container:&lt;id&gt;</c>), so a step reaches a service at
/// 127.0.0.1 on the service's port with no bridge network. The first step waits until every service with a health
/// check (its <c>--health-*</c> options or the image's own) is healthy and every other one still runs.
/// </summary>
internal static class ServiceContainers
{
    /// <summary>The service's name, beside the attempt and owner labels every container of an attempt carries.</summary>
    public const string ServiceLabel = "buildserver.service";

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);

    /// <summary>Creates, starts and waits for the services; on any failure removes those it created.</summary>
    /// <returns>The services' container ids.</returns>
    /// <exception cref="ExecutorException">a service could not start, exited, turned unhealthy or was not healthy in time.</exception>
    public static async Task<IReadOnlyList<string>> StartAsync(DockerExecutor executor, long attemptId, string jobContainerId,
        IReadOnlyList<ServiceSettings> services, CancellationToken cancellationToken)
    {
        var ids = new List<string>();
        var current = "";
        try
        {
            foreach (var service in services)
            {
                current = service.Name;
                var labels = executor.Labels(attemptId);
                labels[ServiceLabel] = service.Name;
                var created = await executor.Client.Containers.CreateContainerAsync(new CreateContainerParameters
                {
                    Image = service.Container.Image,
                    Env = [.. service.Container.Env.Select(kv => $"{kv.Key}={kv.Value}")],
                    Labels = labels,
                    Healthcheck = service.Health,
                    HostConfig = DockerExecutor.HostConfig(service.Limits, $"container:{jobContainerId}"),
                }, CancellationToken.None); // not cut short: a create cancelled after the engine made it would leave it untracked
                ids.Add(created.ID);
                await executor.Client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), CancellationToken.None);
                cancellationToken.ThrowIfCancellationRequested();
            }
            await WaitReadyAsync(executor, services, ids, cancellationToken);
            return ids;
        }
        catch (DockerApiException e)
        {
            await RemoveAsync(executor, ids);
            throw new ExecutorException($"service '{current}' could not start: {FirstLine(e.ResponseBody ?? e.Message)}", e);
        }
        catch
        {
            await RemoveAsync(executor, ids);
            throw;
        }
    }

    public static async Task RemoveAsync(DockerExecutor executor, IEnumerable<string> ids)
    {
        foreach (var id in ids) await executor.RemoveContainerAsync(id);
    }

    private static async Task WaitReadyAsync(DockerExecutor executor, IReadOnlyList<ServiceSettings> services, List<string> ids,
        CancellationToken cancellationToken)
    {
        var limit = executor.Options.ServiceStartTimeout;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(limit);
        var pending = services.Select((service, i) => (service.Name, Id: ids[i])).ToList();
        var lastOutput = new Dictionary<string, string>();
        while (true)
        {
            foreach (var (name, id) in pending.ToList())
            {
                var state = (await executor.Client.Containers.InspectContainerAsync(id, cancellationToken)).State;
                if (state is null || !state.Running)
                {
                    throw new ExecutorException($"service '{name}' exited (exit code {state?.ExitCode}) before the job's first step; " +
                                                $"its last log lines:\n{await LastLogLinesAsync(executor, id)}");
                }
                if (state.Health?.Log is { Count: > 0 } log) lastOutput[name] = log[^1].Output?.Trim() ?? "";
                switch (state.Health?.Status)
                {
                    case "unhealthy":
                        throw new ExecutorException($"service '{name}' is unhealthy: its health check failed {state.Health.FailingStreak} time(s); " +
                                                    $"last health output: {Output(lastOutput, name)}");
                    case "starting":
                        break;
                    default:
                        pending.Remove((name, id)); // healthy, or no health check and running
                        break;
                }
            }
            if (pending.Count == 0) return;
            try
            {
                await Task.Delay(Poll, timeout.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                var (name, _) = pending[0];
                throw new ExecutorException($"service '{name}' did not become healthy within {limit} (Executors:Docker:ServiceStartTimeout); " +
                                            $"last health output: {Output(lastOutput, name)}");
            }
        }
    }

    private static string Output(Dictionary<string, string> lastOutput, string name) =>
        lastOutput.GetValueOrDefault(name) is { Length: > 0 } output ? output : "(none yet)";

    private static async Task<string> LastLogLinesAsync(DockerExecutor executor, string id)
    {
        try
        {
            using var stream = await executor.Client.Containers.GetContainerLogsAsync(id,
                new ContainerLogsParameters { ShowStdout = true, ShowStderr = true, Tail = "20" }, CancellationToken.None);
            var (stdout, stderr) = await stream.ReadOutputToEndAsync(CancellationToken.None);
            var text = (stdout + stderr).TrimEnd();
            return text.Length > 0 ? text : "(no output)";
        }
        catch (Exception e) when (e is DockerApiException or HttpRequestException or IOException)
        {
            return $"(could not read its log: {e.Message})";
        }
    }

    private static string FirstLine(string text) => text.Split('\n')[0].Trim();
}
