using BuildServer.Modules.Runtime;

namespace BuildServer.Tests.Runtime;

public sealed class JobRunnerOutputTests
{
    private RuntimeHarness _harness = null!;

    [SetUp]
    public void SetUp() => _harness = new RuntimeHarness();

    [TearDown]
    public async Task TearDown() => await _harness.DisposeAsync();

    [Test]
    public async Task RunAsync_GithubOutput_ReachesTheStepsContextAndTheJobOutputs()
    {
        var spec = new JobBuilder()
            .Run("echo 'version=1.4.2' >> \"$GITHUB_OUTPUT\"; printf 'notes<<X\\nfirst\\nsecond\\nX\\n' >> \"$GITHUB_OUTPUT\"", id: "meta")
            .Run("echo 'got ${{ steps.meta.outputs.version }} ${{ steps.meta.outcome }}'")
            .Output("version", "v${{ steps.meta.outputs.version }}")
            .Output("notes", "${{ steps.meta.outputs.notes }}")
            .Build();

        var outcome = await _harness.RunAsync(spec);

        Assert.That(_harness.Reporter.Lines, Does.Contain("got 1.4.2 success"));
        Assert.That(outcome.Outputs, Is.EquivalentTo(new Dictionary<string, string> { ["version"] = "v1.4.2", ["notes"] = "first\nsecond" }));
    }

    [Test]
    public async Task RunAsync_JobOutputHoldingASecret_IsLeftOutWithAWarning()
    {
        var spec = new JobBuilder()
            .Run("echo \"token=$TOKEN\" >> \"$GITHUB_OUTPUT\"; echo 'plain=ok' >> \"$GITHUB_OUTPUT\"", id: "s", env: new() { ["TOKEN"] = "${{ secrets.API_TOKEN }}" })
            .Output("token", "${{ steps.s.outputs.token }}")
            .Output("plain", "${{ steps.s.outputs.plain }}")
            .Build();

        var outcome = await _harness.RunAsync(spec, Contexts.Default(new Dictionary<string, string> { ["API_TOKEN"] = "s3cr3t-value" }));

        Assert.That(outcome.Outputs, Is.EquivalentTo(new Dictionary<string, string> { ["plain"] = "ok" }));
        Assert.That(outcome.Annotations.Select(a => a.Message), Does.Contain("Skip output 'token' since it may contain secret."));
    }

    [Test]
    public async Task RunAsync_StepSummary_IsCollectedFromEveryStep()
    {
        var spec = new JobBuilder()
            .Run("echo '## Build' >> \"$GITHUB_STEP_SUMMARY\"")
            .Run("echo 'all good' >> \"$GITHUB_STEP_SUMMARY\"")
            .Run("true")
            .Build();

        var outcome = await _harness.RunAsync(spec);

        Assert.That(outcome.Summary, Is.EqualTo("## Build\nall good\n"));
    }

    [Test]
    public async Task RunAsync_NoSummary_IsNull()
    {
        var outcome = await _harness.RunAsync(new JobBuilder().Run("true").Build());

        Assert.That(outcome.Summary, Is.Null);
    }

    [Test]
    public async Task RunAsync_Secrets_AreMaskedInEveryLineIncludingEachLineOfAMultiLineSecret()
    {
        var secrets = new Dictionary<string, string> { ["PASS"] = "hunter2", ["KEY"] = "-----BEGIN-----\nabcdefgh\n-----END-----" };
        var spec = new JobBuilder()
            .Run("echo \"pass is $P\"; echo \"key line: abcdefgh\" >&2; echo '${{ secrets.PASS }}'", env: new() { ["P"] = "${{ secrets.PASS }}" })
            .Build();

        await _harness.RunAsync(spec, Contexts.Default(secrets));

        Assert.That(_harness.Reporter.Lines, Is.SupersetOf(new[] { "pass is ***", "key line: ***", "***" }));
        Assert.That(string.Join("\n", _harness.Reporter.Lines), Does.Not.Contain("hunter2").And.Not.Contain("abcdefgh"));
    }

    [Test]
    public async Task RunAsync_AddMask_MasksFromThenOnIncludingLaterLinesOfTheSameStep()
    {
        var spec = new JobBuilder()
            .Run("echo 'before: p4ss-word'; echo '::add-mask::p4ss-word'; echo 'after: p4ss-word'")
            .Run("echo 'next step: p4ss-word'")
            .Build();

        await _harness.RunAsync(spec);

        Assert.That(_harness.Reporter.Lines, Is.SupersetOf(new[] { "before: p4ss-word", "::add-mask::***", "after: ***", "next step: ***" }));
    }

    [Test]
    public async Task RunAsync_AnnotationCommands_BecomeAnnotationsWithTheirParameters()
    {
        var spec = new JobBuilder()
            .Run("echo 'ok'")
            .Run("echo '::error file=src/app.cs,line=12,col=5,endLine=12,endColumn=9,title=Build%3A failed::Missing semicolon%0Asecond line'\n" +
                 "echo '::warning::careful'\n" +
                 "echo '::notice title=FYI::all%25 done'")
            .Build();

        var outcome = await _harness.RunAsync(spec);

        Assert.That(outcome.Annotations, Is.EqualTo(new[]
        {
            new Annotation(AnnotationLevel.Error, "Missing semicolon\nsecond line", 1, "src/app.cs", 12, 5, "Build: failed"),
            new Annotation(AnnotationLevel.Warning, "careful", 1, null, null, null, null),
            new Annotation(AnnotationLevel.Notice, "all% done", 1, null, null, null, "FYI"),
        }));
    }

    [Test]
    public async Task RunAsync_GroupAndDebugLines_ArePassedThroughAsWritten()
    {
        var spec = new JobBuilder().Run("echo '::group::Compile'; echo 'cc main.c'; echo '::endgroup::'; echo '::debug::detail'").Build();

        await _harness.RunAsync(spec);

        Assert.That(_harness.Reporter.Lines, Is.EqualTo(new[] { "::group::Compile", "cc main.c", "::endgroup::", "::debug::detail" }));
    }

    [Test]
    public async Task RunAsync_StopCommands_IgnoresCommandsUntilTheToken()
    {
        var spec = new JobBuilder()
            .Run("echo '::stop-commands::pause1'; echo '::warning::not an annotation'; echo '::pause1::'; echo '::warning::an annotation'")
            .Build();

        var outcome = await _harness.RunAsync(spec);

        Assert.That(outcome.Annotations.Select(a => a.Message), Is.EqualTo(new[] { "an annotation" }));
    }

    [Test]
    public async Task RunAsync_DeprecatedSetOutput_StillSetsTheOutputWithAWarning()
    {
        var spec = new JobBuilder()
            .Run("echo '::set-output name=color::blue'", id: "old")
            .Run("echo 'color ${{ steps.old.outputs.color }}'")
            .Build();

        var outcome = await _harness.RunAsync(spec);

        Assert.That(_harness.Reporter.Lines, Does.Contain("color blue"));
        Assert.That(outcome.Annotations.Single().Message, Does.Contain("`set-output` command is deprecated"));
    }

    [Test]
    public async Task RunAsync_DisabledSetEnv_FailsTheStep()
    {
        var outcome = await _harness.RunAsync(new JobBuilder().Run("echo '::set-env name=A::b'").Build());

        Assert.That(outcome.Steps[0].Outcome, Is.EqualTo(Conclusion.Failure));
        Assert.That(outcome.Steps[0].Reason, Does.Contain("`set-env` command is disabled"));
    }
}
