using System.Diagnostics;
using System.Text.Json.Nodes;
using BuildServer.Modules.Pipelines.Planning;
using BuildServer.Modules.Pipelines.Workflow;
using BuildServer.Tests.Infrastructure;

namespace BuildServer.Tests.Conformance;

/// <summary>
/// The project's own conformance workflows (<c>Conformance/workflows/*.yml</c>, together using every key of
/// the language), each with its expected plan and outcome (<c>*.expected.json</c>): checked in-process for the
/// plan, and run end to end through <c>buildserver run</c> and through a real server.
/// </summary>
[NonParallelizable]
public sealed class ConformanceTests
{
    private static readonly string Folder = Path.Combine(Repository.Root, "BuildServer.Tests", "Conformance", "workflows");

    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(120);

    private ServerProcess? _server;

    public static IEnumerable<TestCaseData> Workflows() =>
        Directory.GetFiles(Folder, "*.yml").Order(StringComparer.Ordinal)
            .Select(f => new TestCaseData(Path.GetFileName(f)).SetArgDisplayNames(Path.GetFileNameWithoutExtension(f)));

    public static IEnumerable<TestCaseData> RunnableWorkflows() =>
        Workflows().Where(c => Expected((string)c.Arguments[0]!)["planOnly"]?.GetValue<bool>() != true);

    [OneTimeTearDown]
    public async Task StopServer()
    {
        if (_server is not null) await _server.DisposeAsync();
    }

    [TestCaseSource(nameof(Workflows))]
    public void Plan_IsTheExpectedOne(string file)
    {
        var expected = Expected(file);
        var parsed = WorkflowFiles.CreateParser().Parse(File.ReadAllText(Path.Combine(Folder, file)));
        Assert.That(parsed.Errors, Is.Empty, string.Join("\n", parsed.Errors));
        var run = new RunContext(new JsonObject { ["event_name"] = "workflow_dispatch", ["ref"] = "refs/heads/main" }, DefaultInputs(parsed.Workflow!), []);
        foreach (var (job, names) in (expected["plan"] as JsonObject) ?? [])
        {
            var template = Planner.Templates(parsed.Workflow!).Single(t => t.Job.Id == job);
            var expansion = Planner.Expand(template, run, []);
            Assert.That(expansion.Error, Is.Null);
            Assert.That(expansion.Jobs.Select(j => j.Name), Is.EqualTo(names!.AsArray().Select(n => n!.GetValue<string>())), $"the jobs of '{job}'");
            if (expected["priorities"]?[job] is { } priority)
            {
                Assert.That(expansion.Jobs.Select(j => j.Priority.ToString().ToLowerInvariant()).Distinct(), Is.EqualTo(new[] { priority.GetValue<string>() }));
            }
        }
    }

    [TestCaseSource(nameof(RunnableWorkflows))]
    public async Task LocalRun_HasTheExpectedOutcome(string file)
    {
        var expected = Expected(file);
        var workspace = Directory.CreateTempSubdirectory("buildserver-conformance-").FullName;
        try
        {
            var args = new List<string> { "run", Path.Combine(Folder, file), "--workspace", workspace };
            foreach (var (name, value) in (expected["secrets"] as JsonObject) ?? [])
            {
                args.AddRange(["--secret", $"{name}={value}"]);
            }
            var (code, output) = await RunCliAsync(args);

            var results = new Dictionary<string, string>();
            var logs = new Dictionary<string, List<string>>();
            foreach (var line in output.Split('\n'))
            {
                var end = line.IndexOf("] ", StringComparison.Ordinal);
                if (!line.StartsWith('[') || end < 0) continue;
                var job = line[1..end];
                var rest = line[(end + 2)..];
                if (rest.StartsWith("| ", StringComparison.Ordinal))
                {
                    (logs.TryGetValue(job, out var list) ? list : logs[job] = []).Add(rest[2..]);
                }
                else if (System.Text.RegularExpressions.Regex.Match(rest, "^. job (succeeded|failed|cancelled|skipped|timed out)") is { Success: true } m)
                {
                    results[job] = m.Groups[1].Value.Replace(' ', '_');
                }
            }
            Check(expected, results, job => logs.GetValueOrDefault(job) ?? [], output);
            Assert.That(code, Is.EqualTo(expected["result"]!.GetValue<string>() == "succeeded" ? 0 : 1), output);
        }
        finally
        {
            Directory.Delete(workspace, recursive: true);
        }
    }

    [TestCaseSource(nameof(RunnableWorkflows))]
    public async Task ServerRun_HasTheExpectedOutcome(string file)
    {
        var expected = Expected(file);
        _server ??= await ServerProcess.StartAsync(Db.Sqlite);
        using var api = _server.Client();
        var project = "conformance-" + Path.GetFileNameWithoutExtension(file);
        await api.CreateProjectAsync(project);
        var id = await api.TriggerRunAsync(project, await File.ReadAllTextAsync(Path.Combine(Folder, file)));

        var run = await api.WaitForRunAsync(id, RunTimeout);

        var jobs = run["jobs"]!.AsArray().Select(j => j!).ToList();
        var results = jobs.ToDictionary(j => j["name"]!.GetValue<string>(), ApiClient.Status);
        var logs = new Dictionary<string, List<string>>();
        foreach (var job in jobs.Where(j => j["attempts"]?.AsArray().Count > 0 || ApiClient.Status(j) is not ("skipped" or "cancelled")))
        {
            logs[job["name"]!.GetValue<string>()] = [.. ApiClient.Lines(await api.JobLogAsync(job["id"]!.GetValue<long>()))];
        }
        Check(expected, results, job => logs.GetValueOrDefault(job) ?? [], run.ToJsonString());
        Assert.That(ApiClient.Status(run), Is.EqualTo(expected["result"]!.GetValue<string>()), run.ToJsonString());
    }

    private static void Check(JsonNode expected, Dictionary<string, string> results, Func<string, List<string>> log, string context)
    {
        Assert.Multiple(() =>
        {
            Assert.That(results, Is.EquivalentTo(((JsonObject)expected["jobs"]!).ToDictionary(p => p.Key, p => p.Value!.GetValue<string>())), context);
            foreach (var (job, lines) in (expected["log"] as JsonObject) ?? [])
            {
                var text = string.Join("\n", log(job));
                foreach (var line in lines!.AsArray())
                {
                    Assert.That(text, Does.Contain(line!.GetValue<string>()), $"the log of '{job}'");
                }
            }
            foreach (var (job, lines) in (expected["absent"] as JsonObject) ?? [])
            {
                var text = string.Join("\n", log(job));
                foreach (var line in lines!.AsArray())
                {
                    Assert.That(text, Does.Not.Contain(line!.GetValue<string>()), $"the log of '{job}'");
                }
            }
        });
    }

    private static JsonObject DefaultInputs(Modules.Pipelines.Workflow.Workflow workflow) => DispatchInputs.Resolve(workflow, null).Inputs;

    private static JsonNode Expected(string file) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(Folder, Path.GetFileNameWithoutExtension(file) + ".expected.json")))!;

    private static async Task<(int Code, string Output)> RunCliAsync(IEnumerable<string> args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Repository.ServerDll);
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(RunTimeout);
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
