using BuildServer.Modules.Runtime;

namespace BuildServer.Tests.Runtime;

public sealed class JobRunnerShellTests
{
    private RuntimeHarness _harness = null!;

    [SetUp]
    public void SetUp() => _harness = new RuntimeHarness();

    [TearDown]
    public async Task TearDown() => await _harness.DisposeAsync();

    [Test]
    public async Task RunAsync_DefaultBash_FailsOnAFailingPipe()
    {
        var outcome = await _harness.RunAsync(new JobBuilder().Run("false | true\necho not-reached").Build());

        Assert.That(outcome.Conclusion, Is.EqualTo(Conclusion.Failure));
        Assert.That(_harness.Reporter.Lines, Does.Not.Contain("not-reached"));
    }

    [Test]
    public async Task RunAsync_WriterToAClosedPipe_IsEndedBySigpipeAsInATerminal()
    {
        // .NET ignores SIGPIPE; a step must not inherit that (`yes` would fail with "Broken pipe" and exit 1).
        var outcome = await _harness.RunAsync(new JobBuilder().Run("set +o pipefail\nyes | head -n 1 >/dev/null\necho \"yes ended with ${PIPESTATUS[0]}\"").Build());

        Assert.That(outcome.Conclusion, Is.EqualTo(Conclusion.Success), outcome.Reason);
        Assert.That(_harness.Reporter.Lines, Is.EqualTo(new[] { "yes ended with 141" }));
    }

    [Test]
    public async Task RunAsync_ShShell_RunsWithErrexit()
    {
        var outcome = await _harness.RunAsync(new JobBuilder().Run("echo \"in sh\"\nfalse\necho not-reached", shell: "sh").Build());

        Assert.That(outcome.Steps[0].ExitCode, Is.EqualTo(1));
        Assert.That(_harness.Reporter.Lines, Is.EqualTo(new[] { "in sh", "Error: step 'Run echo \"in sh\"' exited with code 1" }));
    }

    [Test]
    public async Task RunAsync_PythonShell_RunsPython3()
    {
        Assert.That(Shells.Exists("python3", Environment.GetEnvironmentVariable("PATH") ?? ""), Is.True, "python3 is needed (tools/test.sh installs it)");

        var outcome = await _harness.RunAsync(new JobBuilder().Run("import os\nprint('py', os.environ['GITHUB_JOB'])", shell: "python").Build());

        Assert.That(outcome.Conclusion, Is.EqualTo(Conclusion.Success), outcome.Reason);
        Assert.That(_harness.Reporter.Lines, Does.Contain("py build"));
    }

    [Test]
    public async Task RunAsync_CustomShellTemplate_RunsTheScriptThroughIt()
    {
        var spec = new JobBuilder()
            .Run("echo custom $0", shell: "bash -x {0}")
            .Run("print \"perl says hi\\n\";", shell: "perl {0}")
            .Build();

        var outcome = await _harness.RunAsync(spec);

        Assert.That(outcome.Conclusion, Is.EqualTo(Conclusion.Success), outcome.Reason);
        Assert.That(_harness.Reporter.Lines, Has.Some.StartsWith("+ echo custom"));
        Assert.That(_harness.Reporter.Lines, Does.Contain("perl says hi"));
    }

    [Test]
    public async Task RunAsync_ShellNotOnTheAgent_FailsWithAClearReason()
    {
        var emptyPath = Directory.CreateTempSubdirectory("no-shells-").FullName; // whatever this machine has installed
        var outcome = await _harness.RunAsync(new JobBuilder().Env("PATH", emptyPath)
            .Run("Write-Host hi", shell: "pwsh").Run("echo x", shell: "nosuchshell {0}").Build());
        Directory.Delete(emptyPath);

        Assert.That(outcome.Steps[0].Reason, Is.EqualTo("shell 'pwsh' is not available on this agent"));
        Assert.That(outcome.Steps[1].Conclusion, Is.EqualTo(Conclusion.Skipped));
    }

    [Test]
    public async Task RunAsync_CustomShellWithoutPlaceholder_IsRefused()
    {
        var outcome = await _harness.RunAsync(new JobBuilder().Run("echo x", shell: "zsh-ish").Build());

        Assert.That(outcome.Steps[0].Reason, Does.StartWith("shell 'zsh-ish' is not known"));
    }

    [Test]
    public async Task RunAsync_DefaultsRunShell_AppliesUnlessTheStepSetsOne()
    {
        var spec = new JobBuilder()
            .Defaults(shell: "sh")
            .Run("echo \"${BASH_VERSION:-no-bash}\"")
            .Run("echo \"${BASH_VERSION:+bash}\"", shell: "bash")
            .Build();

        await _harness.RunAsync(spec);

        Assert.That(_harness.Reporter.Lines, Is.EqualTo(new[] { "no-bash", "bash" }));
    }

    [Test]
    public async Task RunAsync_WorkingDirectory_IsRelativeToTheWorkspace()
    {
        var spec = new JobBuilder()
            .Defaults(workingDirectory: "src")
            .Run("mkdir -p src/app", workingDirectory: ".")
            .Run("basename \"$PWD\"")
            .Run("basename \"$PWD\"", workingDirectory: "src/app")
            .Run("true", workingDirectory: "missing")
            .Build();

        var outcome = await _harness.RunAsync(spec);

        Assert.That(_harness.Reporter.Lines.Take(2), Is.EqualTo(new[] { "src", "app" }));
        Assert.That(outcome.Steps[3].Reason, Is.EqualTo("working-directory 'missing' does not exist"));
    }
}
