using System.Text;
using BuildServer.Modules.Pipelines;
using static BuildServer.Tests.Pipelines.Workflow.WorkflowHarness;

namespace BuildServer.Tests.Pipelines.Workflow;

/// <summary>Input that is not a workflow at all, or is built to exhaust the parser: one clear error, quickly.</summary>
public sealed class WorkflowBadInputTests
{
    [TestCase("", "1:1: The workflow file is empty: it needs at least 'jobs'.")]
    [TestCase("# only a comment\n", "1:1: The workflow file is empty: it needs at least 'jobs'.")]
    [TestCase("---\n", "1:1: The workflow file is empty: it needs at least 'jobs'.")]
    [TestCase("hello", "1:1: The workflow must be a mapping with at least 'jobs' (and usually 'on'), not a string.")]
    [TestCase("- a\n- b", "1:1: The workflow must be a mapping with at least 'jobs' (and usually 'on'), not a list.")]
    [TestCase("jobs: [a", "2:1: Invalid YAML: While parsing a flow sequence, did not find expected ',' or ']'.")]
    [TestCase("jobs:\n  a: b\n c: d", "3:2: Invalid YAML: While parsing a block mapping, did not find expected key.")]
    [TestCase("a: 1\n---\nb: 2", "2:1: The workflow file must be one YAML document, but a second one starts here.")]
    [TestCase("jobs: *nothing", "1:7: The alias '*nothing' names no anchor defined before it ('&nothing').")]
    [TestCase("{ jobs: \"unterminated }", "1:9: Invalid YAML: ")]
    public void Parse_NotAWorkflow_GivesOneClearError(string yaml, string expected)
    {
        var result = Parse(yaml);

        Assert.Multiple(() =>
        {
            Assert.That(result.Workflow, Is.Null);
            Assert.That(result.Errors.Select(e => e.ToString()).Single(), Does.StartWith(expected));
        });
    }

    [Test]
    public void Parse_TenMegabytes_IsRejectedAtOnce()
    {
        var yaml = "jobs:\n" + new string('x', 10 * 1024 * 1024);

        var error = SingleError(yaml);

        Assert.Multiple(() =>
        {
            Assert.That(error.ToString(), Is.EqualTo($"1:1: The workflow file is larger than {PipelineLimits.MaxBytes / 1024} KiB."));
        });
    }

    [Test]
    public void Parse_DeepFlowNesting_StopsAtTheLimit()
    {
        var yaml = "jobs: " + new string('[', 100_000) + new string(']', 100_000);

        var error = SingleError(yaml);

        Assert.That(error.ToString(), Is.EqualTo("1:70: The workflow nests deeper than 64 levels."));
    }

    [Test]
    public void Parse_DeepBlockNesting_StopsAtTheLimit()
    {
        var yaml = new StringBuilder();
        for (var i = 0; i < 200; i++) yaml.Append(' ', i).Append("k:\n");

        var error = SingleError(yaml.ToString());

        Assert.That(error.ToString(), Is.EqualTo("65:65: The workflow nests deeper than 64 levels."));
    }

    [Test]
    public void Parse_BillionLaughs_StopsAtTheAlias()
    {
        var yaml = new StringBuilder("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for (var i = 1; i < 10; i++)
        {
            yaml.Append($"a{i}: &a{i} [");
            yaml.Append(string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 10)));
            yaml.Append("]\n");
        }
        yaml.Append("jobs: { x: { steps: [{ run: *a9 }] } }\n");

        var error = SingleError(yaml.ToString());

        Assert.Multiple(() =>
        {
            Assert.That(error.Message, Is.EqualTo("YAML aliases expand to more than 100000 nodes."));
            Assert.That(error.Line, Is.InRange(5, 6));
        });
    }

    [Test]
    public void Parse_ManyJobs_AreCapped()
    {
        var yaml = "jobs:\n" + string.Concat(Enumerable.Range(0, 501).Select(i => $"  j{i}: {{ steps: [{{ run: x }}] }}\n"));

        Assert.That(SingleError(yaml).ToString(), Is.EqualTo("1:1: The workflow has 501 jobs; at most 500 are allowed."));
    }

    [Test]
    public void Parse_ManySteps_AreCapped()
    {
        var yaml = WithJob("steps:\n" + string.Concat(Enumerable.Range(0, 1001).Select(_ => "  - run: x\n")).TrimEnd('\n'));

        Assert.That(SingleError(yaml).ToString(), Is.EqualTo("4:5: Job 'build' has 1001 steps; at most 1000 are allowed."));
    }

    [Test]
    public void Parse_DenseNeedsWithCycles_ReportsAFewCycles()
    {
        var ids = Enumerable.Range(0, 300).Select(i => $"j{i}").ToList();
        var yaml = "jobs:\n" + string.Concat(ids.Select(id => $"  {id}: {{ needs: [{string.Join(",", ids.Where(o => o != id))}], steps: [{{ run: x }}] }}\n"));

        var errors = Errors(yaml);

        Assert.Multiple(() =>
        {
            Assert.That(errors, Has.Count.EqualTo(10));
            Assert.That(errors, Has.All.Contains("The jobs' needs form a cycle: "));
        });
    }

    [Test]
    public void Parse_ComplexKey_IsAnErrorNotACrash()
    {
        var errors = Errors("? [a, b]\n: c\njobs: { a: { steps: [{ run: x }] } }");

        Assert.That(errors.Single(), Does.StartWith("1:3: Keys in the workflow must be strings, not a list."));
    }

    [Test]
    public void Parse_MergeKeyWithAScalar_IsAnError()
    {
        var errors = Errors("jobs:\n  a:\n    <<: 3\n    steps: [{ run: x }]");

        Assert.That(errors.Single(), Does.StartWith("3:5: The merge key '<<' needs a mapping"));
    }
}

/// <summary>Files written on Windows or with a byte-order mark read like any other.</summary>
public sealed class WorkflowLineEndingTests
{
    [Test]
    public void Parse_CrLfLineEndings_KeepPositions()
    {
        var yaml = "on: push\r\njobs:\r\n  build:\r\n    steps:\r\n      - run: |\r\n          echo ${{ matrix.os ] }}\r\n";

        Assert.That(Errors(yaml).Single(), Does.StartWith("6:30: Invalid expression in 'run' of step 1 of job 'build'"));
    }

    [Test]
    public void Parse_ByteOrderMark_IsIgnored()
    {
        var workflow = Valid("\uFEFFon: push\njobs: { a: { steps: [{ run: x }] } }");

        Assert.That(workflow.Jobs.Single().Id, Is.EqualTo("a"));
    }
}
