using System.Diagnostics;
using BuildServer.Tests.Infrastructure;

namespace BuildServer.Tests.Cli;

/// <summary><c>buildserver validate</c> and <c>buildserver run</c> as a user calls them: the real binary, real files, real processes.</summary>
[NonParallelizable]
public sealed class WorkflowVerbTests
{
    private string _dir = null!;

    [SetUp]
    public void CreateFolder() => _dir = Directory.CreateTempSubdirectory("buildserver-verbs-").FullName;

    [TearDown]
    public void RemoveFolder() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Test]
    public async Task Validate_ValidFiles_Exit0()
    {
        var files = Directory.GetFiles(Path.Combine(Repository.Root, "BuildServer.Tests", "Conformance", "workflows"), "*.yml");

        var (code, output) = await RunAsync(["validate", .. files]);

        Assert.That(code, Is.Zero, output);
        Assert.That(output.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(files.Length).And.All.Contains(": ok ("));
    }

    [Test]
    public async Task Validate_ReportsEveryErrorOfEveryFile_AsFileLineColumn_Exit1()
    {
        var bad = Write("bad.yml", "jobs:\n  a:\n    runs-on: x\n    timeout-minutes: soon\n    steps:\n      - uses: someone/thing@v1\n      - run: echo ${{ matrix. }}\n");
        var good = Write("good.yml", "jobs:\n  a:\n    runs-on: x\n    steps: [{run: echo}]\n");
        var missing = Path.Combine(_dir, "missing.yml");

        var (code, output) = await RunAsync(["validate", bad, good, missing]);

        Assert.That(code, Is.EqualTo(1));
        Assert.That(output, Does.Contain($"{bad}:4:22: 'timeout-minutes' of job 'a' must be a number"));
        Assert.That(output, Does.Contain($"{bad}:6:15: unsupported action 'someone/thing@v1'"));
        Assert.That(output, Does.Match($@"{System.Text.RegularExpressions.Regex.Escape(bad)}:7:\d+: Invalid expression"));
        Assert.That(output, Does.Contain($"{good}: ok (1 job(s))"));
        Assert.That(output, Does.Contain($"{missing}: no such file"));
    }

    [Test]
    public async Task Validate_TenMegabyteFile_FailsAtOnceWithOneLine()
    {
        var huge = Path.Combine(_dir, "huge.yml");
        await File.WriteAllTextAsync(huge, "jobs:\n" + new string('#', 10 * 1024 * 1024));

        var (code, output) = await RunAsync(["validate", huge]);

        Assert.That(code, Is.EqualTo(1));
        Assert.That(output.Trim(), Does.StartWith($"{huge}:1:1: the file is larger than 1024 KiB"));
    }

    [Test]
    public async Task Run_PrintsPrefixedOutputAndASummary_ExitCodeFollowsTheRun()
    {
        var file = Write("ci.yml", """
            on:
              workflow_dispatch:
                inputs:
                  who: { type: string, required: true }
            jobs:
              hello:
                runs-on: self-hosted
                steps:
                  - run: echo "hello ${{ inputs.who }} $GREETING ${{ secrets.KEY }}"
              broken:
                needs: hello
                runs-on: self-hosted
                steps:
                  - run: exit 4
            """);

        var (code, output) = await RunAsync(["run", file, "--workspace", _dir, "--input", "who=world", "--env", "GREETING=hi", "--secret", "KEY=topsecret"]);

        Assert.That(code, Is.EqualTo(1), output);
        Assert.That(output, Does.Contain("[hello] | hello world hi ***"));
        Assert.That(output, Does.Not.Contain("topsecret"));
        Assert.That(output, Does.Contain("[broken] ✗ job failed"));
        Assert.That(output, Does.Match(@"hello\s+succeeded").And.Match(@"broken\s+failed"));

        var (onlyHello, helloOutput) = await RunAsync(["run", file, "--workspace", _dir, "--input", "who=x", "--job", "hello"]);
        Assert.That(onlyHello, Is.Zero, helloOutput);
        Assert.That(helloOutput, Does.Not.Contain("[broken]"));
    }

    [Test]
    public async Task Run_BackgroundStep_FailsAsNotSupportedYet_InsteadOfBlocking()
    {
        var file = Write("bg.yml", "jobs:\n  a:\n    runs-on: x\n    steps:\n      - id: server\n        background: true\n        run: sleep 300\n      - wait: [server]\n");

        var (code, output) = await RunAsync(["run", file, "--workspace", _dir]);

        Assert.That(code, Is.EqualTo(1));
        Assert.That(output, Does.Contain("5:9: 'background' (background steps) is not supported yet"));
    }

    [TestCase("--input", "who=x,nope=1", "Unexpected input")]
    [TestCase("--matrix", "novalue", "must be name=value")]
    [TestCase("--job", "ghost", "there is no job 'ghost'")]
    public async Task Run_BadArguments_FailWithOneReadableLine(string option, string value, string message)
    {
        var file = Write("ci.yml", "on:\n  workflow_dispatch:\n    inputs:\n      who: {type: string}\njobs:\n  a:\n    runs-on: x\n    steps: [{run: echo}]\n");
        string[] args = option == "--input" ? ["run", file, "--input", "who=x", "--input", "nope=1"] : ["run", file, option, value];

        var (code, output) = await RunAsync(args);

        Assert.That(code, Is.Not.Zero);
        Assert.That(output.Trim().Split('\n'), Has.Length.EqualTo(1), output);
        Assert.That(output, Does.Contain(message));
    }

    [Test]
    public async Task Run_CtrlC_StopsTheStepRunsCleanupAndExits130()
    {
        var sleep = $"sleep 120.{Random.Shared.Next(100_000, 999_999)}"; // unique: another test run's step is not this one
        var file = Write("slow.yml", $"jobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo started; {sleep}\n      - if: always()\n        run: echo cleanup ran\n");
        // As from a terminal: SIGINT at its default disposition. A test runner started in the background by a
        // non-interactive shell ignores SIGINT, and ignored signals are inherited (.NET then leaves them ignored).
        var info = new ProcessStartInfo("env") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--default-signal=INT", "dotnet", Repository.ServerDll, "run", file, "--workspace", _dir }) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var output = new System.Text.StringBuilder();
        var started = new TaskCompletionSource();
        process.OutputDataReceived += (_, e) =>
        {
            lock (output) output.AppendLine(e.Data);
            if (e.Data?.Contains("| started", StringComparison.Ordinal) == true) started.TrySetResult();
        };
        process.BeginOutputReadLine();
        await started.Task.WaitAsync(TimeSpan.FromSeconds(60));

        Processes.Signal(process.Id, Processes.SigInt);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);

        Assert.That(process.ExitCode, Is.EqualTo(130), output.ToString());
        Assert.That(output.ToString(), Does.Contain("cleanup ran").And.Contain("job cancelled"));
        Assert.That(Processes.WithCommandLine(sleep), Is.Empty, "the step's process is gone");
    }

    private static async Task<(int Code, string Output)> RunAsync(IEnumerable<string> args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Repository.ServerDll);
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
