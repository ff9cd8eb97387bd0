using BuildServer.Modules.Pipelines;

namespace BuildServer.Tests.Pipelines;

public sealed class PipelineParserTests
{
    private readonly PipelineParser _parser = new();

    [Test]
    public void Parse_ValidPipeline_OrdersJobsAfterTheirNeedsAndMergesNothingYet()
    {
        var result = _parser.Parse("""
            name: ci
            on: push
            env: { A: "1", B: 2 }
            jobs:
              d: { needs: [b, c], steps: [{ run: echo d }] }
              b: { needs: a, runs-on: linux, steps: [{ run: echo b }] }
              c: { needs: [a], runs-on: [linux, docker], steps: [{ name: named, run: echo c, env: { X: y } }] }
              a: { env: { J: k }, steps: [{ run: "echo a\necho more" }] }
            """);

        Assert.That(result.Errors, Is.Empty);
        var pipeline = result.Pipeline!;
        var order = pipeline.Jobs.Select(j => j.Key).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(order.IndexOf("a"), Is.LessThan(order.IndexOf("b")));
            Assert.That(order.IndexOf("b"), Is.LessThan(order.IndexOf("d")));
            Assert.That(order.IndexOf("c"), Is.LessThan(order.IndexOf("d")));
            Assert.That(pipeline.Name, Is.EqualTo("ci"));
            Assert.That(pipeline.Env, Is.EqualTo(new Dictionary<string, string> { ["A"] = "1", ["B"] = "2" }));
            Assert.That(pipeline.Jobs.Single(j => j.Key == "c").RunsOn, Is.EqualTo(new[] { "linux", "docker" }));
            Assert.That(pipeline.Jobs.Single(j => j.Key == "b").RunsOn, Is.EqualTo(new[] { "linux" }));
            Assert.That(pipeline.Jobs.Single(j => j.Key == "c").Steps[0].Name, Is.EqualTo("named"));
            Assert.That(pipeline.Jobs.Single(j => j.Key == "a").Steps[0].Name, Is.EqualTo("Run echo a"));
            Assert.That(pipeline.Jobs.Single(j => j.Key == "c").Steps[0].Env["X"], Is.EqualTo("y"));
        });
    }

    [Test]
    public void Parse_InvalidYaml_ReportsLineAndColumn()
    {
        var result = _parser.Parse("jobs:\n  a:\n    steps: [{run: echo}\n");

        Assert.That(result.IsValid, Is.False);
        Assert.That(result.Errors[0].Line, Is.EqualTo(3).Or.EqualTo(4));
        Assert.That(result.Errors[0].Message, Does.StartWith("Invalid YAML"));
    }

    [Test]
    public void Parse_UnknownNeed_PointsAtTheNeedEntry()
    {
        var result = _parser.Parse("jobs:\n  a:\n    steps: [{run: x}]\n  b:\n    needs: [a, ghost]\n    steps: [{run: x}]\n");

        Assert.That(result.Errors, Has.Count.EqualTo(1));
        Assert.That(result.Errors[0], Is.EqualTo(new PipelineError(5, 16, "Job 'b' needs 'ghost', which is not a job in this pipeline.", "b")));
    }

    [Test]
    public void Parse_SelfNeed_IsAnError()
    {
        var result = _parser.Parse("jobs:\n  a:\n    needs: a\n    steps: [{run: x}]\n");

        Assert.That(result.Errors.Single().Message, Does.Contain("needs itself"));
    }

    [Test]
    public void Parse_Cycle_NamesTheCycle()
    {
        var result = _parser.Parse("jobs:\n  root: {steps: [{run: x}]}\n  a: {needs: [root, b], steps: [{run: x}]}\n  b: {needs: a, steps: [{run: x}]}\n");

        Assert.That(result.Errors.Single().Message, Is.EqualTo("Dependency cycle: a -> b -> a."));
        Assert.That(result.Errors.Single().Job, Is.EqualTo("a"));
    }

    [TestCase("")]
    [TestCase("# only a comment\n")]
    public void Parse_Empty_IsAnError(string yaml) =>
        Assert.That(_parser.Parse(yaml).Errors.Single().Message, Does.Contain("empty"));

    [Test]
    public void Parse_TwoDocuments_IsAnError() =>
        Assert.That(_parser.Parse("jobs: {}\n---\njobs: {}\n").Errors.Single().Message, Does.Contain("single YAML document"));

    [Test]
    public void Parse_BadJobId_IsAnError() =>
        Assert.That(_parser.Parse("jobs:\n  1bad: {steps: [{run: x}]}\n").Errors.Single().Message, Does.Contain("Job id '1bad'"));

    [Test]
    public void Parse_WrongTypes_ReportEachOne()
    {
        var result = _parser.Parse("name: [x]\nenv: 5\njobs:\n  a:\n    steps: {run: x}\n  b:\n    needs: {x: 1}\n    steps: [5]\n");

        Assert.That(result.Errors.Select(e => e.Line), Is.EquivalentTo(new[] { 1, 2, 5, 7, 8 }));
    }

    [Test]
    public void Parse_DuplicateKey_IsAnError() =>
        Assert.That(_parser.Parse("jobs:\n  a: {steps: [{run: x}]}\n  a: {steps: [{run: y}]}\n").IsValid, Is.False);

    [Test]
    public void Parse_AliasBomb_FinishesQuicklyAndDoesNotExpand()
    {
        var yaml = "a: &a [x, x, x, x, x, x, x, x, x]\n" + string.Join("", Enumerable.Range(1, 9).Select(i =>
            $"{(char)('a' + i)}: &{(char)('a' + i)} [*{(char)('a' + i - 1)}, *{(char)('a' + i - 1)}, *{(char)('a' + i - 1)}, *{(char)('a' + i - 1)}]\n")) + "jobs: {x: {steps: [{run: echo}]}}\n";

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = _parser.Parse(yaml);

        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
        Assert.That(result.Errors, Is.Not.Empty, "the bomb's keys are unknown top-level keys");
    }

    [Test]
    public void Parse_DeepFlowNesting_IsRefusedBeforeParsing() =>
        Assert.That(_parser.Parse("jobs: " + new string('[', 100_000)).Errors.Single().Message, Does.Contain("nests deeper"));

    [Test]
    public void Parse_DeepBlockNesting_DoesNotCrash()
    {
        var yaml = "jobs:\n" + string.Concat(Enumerable.Range(1, 2000).Select(i => new string(' ', i) + "k:\n"));

        Assert.That(_parser.Parse(yaml).IsValid, Is.False);
    }

    [Test]
    public void Parse_TooLarge_IsRefused() =>
        Assert.That(_parser.Parse(new string('#', PipelineParser.MaxBytes + 1)).Errors.Single().Message, Does.Contain("larger than"));
}
