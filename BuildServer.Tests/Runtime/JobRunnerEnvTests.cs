using BuildServer.Modules.Runtime;

namespace BuildServer.Tests.Runtime;

public sealed class JobRunnerEnvTests
{
    private RuntimeHarness _harness = null!;

    [SetUp]
    public void SetUp() => _harness = new RuntimeHarness();

    [TearDown]
    public async Task TearDown() => await _harness.DisposeAsync();

    [Test]
    public async Task RunAsync_EnvAtEveryLevel_StepBeatsGithubEnvBeatsJobBeatsWorkflow()
    {
        var spec = new JobBuilder()
            .WorkflowEnv("A", "workflow").WorkflowEnv("B", "workflow").WorkflowEnv("C", "workflow").WorkflowEnv("D", "workflow")
            .Env("B", "job").Env("C", "job").Env("D", "job")
            .Run("echo C=file >> \"$GITHUB_ENV\"; echo D=file >> \"$GITHUB_ENV\"; echo \"same step: $C\"")
            .Run("echo \"A=$A B=$B C=$C D=$D\"", env: new() { ["D"] = "step" })
            .Build();

        var outcome = await _harness.RunAsync(spec);

        Assert.That(outcome.Conclusion, Is.EqualTo(Conclusion.Success));
        Assert.That(_harness.Reporter.Lines, Does.Contain("same step: job"));
        Assert.That(_harness.Reporter.Lines, Does.Contain("A=workflow B=job C=file D=step"));
    }

    [Test]
    public async Task RunAsync_EnvContext_SeesTheEnvInEffectForTheKey()
    {
        var spec = new JobBuilder()
            .WorkflowEnv("W", "w1")
            .Env("J", "${{ github.ref_name }}-${{ matrix.os }}")
            .Run("echo GREETING=hello >> $GITHUB_ENV")
            .Run("echo '${{ env.W }} ${{ env.J }} ${{ env.S }} ${{ env.GREETING }}'", env: new() { ["S"] = "${{ env.W }}-step" })
            .Matrix(new System.Text.Json.Nodes.JsonObject { ["os"] = "linux" })
            .Build();

        await _harness.RunAsync(spec);

        Assert.That(_harness.Reporter.Lines, Does.Contain("w1 main-linux w1-step hello"));
    }

    [Test]
    public async Task RunAsync_GithubEnvHeredoc_IsVisibleToLaterStepsAsOneValue()
    {
        var spec = new JobBuilder()
            .Run("{ echo 'NOTES<<EOF_1'; echo 'line one'; echo 'a=b'; echo 'EOF_1'; } >> \"$GITHUB_ENV\"")
            .Run("printf '%s|' \"$NOTES\"; echo")
            .Build();

        var outcome = await _harness.RunAsync(spec);

        Assert.That(outcome.Conclusion, Is.EqualTo(Conclusion.Success));
        Assert.That(_harness.Reporter.Lines, Does.Contain("line one"));
        Assert.That(_harness.Reporter.Lines, Does.Contain("a=b|"));
    }

    [Test]
    public async Task RunAsync_GithubEnvWithoutClosingDelimiter_FailsTheStepWithTheReason()
    {
        var spec = new JobBuilder().Run("printf 'X<<END\\nvalue\\n' >> \"$GITHUB_ENV\"").Build();

        var outcome = await _harness.RunAsync(spec);

        Assert.That(outcome.Conclusion, Is.EqualTo(Conclusion.Failure));
        Assert.That(outcome.Steps[0].Reason, Is.EqualTo("GITHUB_ENV: matching delimiter not found 'END'"));
    }

    [Test]
    public async Task RunAsync_GithubPath_IsPrependedForLaterStepsLatestFirst()
    {
        var spec = new JobBuilder()
            .Run("mkdir -p a b && printf '#!/bin/sh\\necho tool-a\\n' > a/tool && printf '#!/bin/sh\\necho tool-b\\n' > b/tool && chmod +x a/tool b/tool " +
                 "&& echo \"$PWD/a\" >> \"$GITHUB_PATH\" && echo \"$PWD/b\" >> \"$GITHUB_PATH\"")
            .Run("tool; echo \"${PATH%%:*}\" | xargs basename")
            .Build();

        var outcome = await _harness.RunAsync(spec);

        Assert.That(outcome.Conclusion, Is.EqualTo(Conclusion.Success), outcome.Reason);
        Assert.That(_harness.Reporter.Lines, Is.SupersetOf(new[] { "tool-b", "b" }));
    }

    [Test]
    public async Task RunAsync_DefaultEnvironment_HasTheGithubAndBuildServerVariables()
    {
        var spec = new JobBuilder()
            .Env("GITHUB_SHA", "overridden")
            .Run("echo \"$CI $GITHUB_ACTIONS $BUILDSERVER $GITHUB_SHA $GITHUB_REF $GITHUB_REF_NAME $GITHUB_EVENT_NAME $GITHUB_JOB $GITHUB_RUN_ID $GITHUB_RUN_NUMBER $GITHUB_RUN_ATTEMPT $GITHUB_REPOSITORY $GITHUB_ACTOR $GITHUB_WORKFLOW $RUNNER_OS $RUNNER_NAME\"\n" +
                 "echo \"$BUILDSERVER_RUN_ID $BUILDSERVER_ATTEMPT $BUILDSERVER_JOB $BUILDSERVER_REF\"\n" +
                 "test \"$GITHUB_WORKSPACE\" = \"$PWD\" && test -d \"$RUNNER_TEMP\" && echo dirs-ok\n" +
                 "grep -q hello \"$GITHUB_EVENT_PATH\" && echo event-ok")
            .Build();

        var outcome = await _harness.RunAsync(spec);

        Assert.That(outcome.Conclusion, Is.EqualTo(Conclusion.Success), outcome.Reason);
        Assert.That(_harness.Reporter.Lines, Is.SupersetOf(new[]
        {
            "true true true 0123456789abcdef0123456789abcdef01234567 refs/heads/main main push build 42 7 1 acme/widgets octo CI Linux test-runner",
            "42 1 build refs/heads/main",
            "dirs-ok",
            "event-ok",
        }));
    }

    [Test]
    public async Task RunAsync_Contexts_ExposeRunnerVarsNeedsInputsStrategyAndGithubAlias()
    {
        var spec = new JobBuilder()
            .Run("echo '${{ runner.os }}/${{ runner.arch }}/${{ runner.name }} ${{ vars.REGION }} ${{ needs.setup.outputs.version }} ${{ inputs.level }} ${{ strategy.job-total }} ${{ ci.sha == github.sha }} ${{ github.job }} ${{ job.status }}'")
            .Build();

        var outcome = await _harness.RunAsync(spec);

        Assert.That(outcome.Conclusion, Is.EqualTo(Conclusion.Success), outcome.Reason);
        Assert.That(_harness.Reporter.Lines.Single(l => l.StartsWith("Linux/", StringComparison.Ordinal)),
            Does.Match("^Linux/(X64|ARM64|X86|ARM)/test-runner eu 1.2 debug 1 true build success$"));
    }
}
