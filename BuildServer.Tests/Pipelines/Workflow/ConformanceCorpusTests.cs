using System.Text.Json.Nodes;
using static BuildServer.Tests.Pipelines.Workflow.WorkflowHarness;

namespace BuildServer.Tests.Pipelines.Workflow;

/// <summary>Real workflows from well-known repositories: each parses, and the only errors are third-party actions
/// and reusable workflows from other repositories, which BuildServer does not run.</summary>
public sealed class ConformanceCorpusTests
{
    [Test]
    public void Corpus_IsThere()
    {
        Assert.That(ConformanceFiles(), Has.Count.GreaterThanOrEqualTo(30));
    }

    [Test]
    public void Parse_EveryCorpusFile_OnlyUnsupportedActionErrorsOnUsesLines()
    {
        var problems = new List<string>();
        foreach (var file in ConformanceFiles())
        {
            var text = File.ReadAllText(file);
            var lines = text.Split('\n');
            var result = Parse(text);
            foreach (var error in result.Errors)
            {
                var allowed = error.Message.StartsWith("unsupported action '", StringComparison.Ordinal)
                    || error.Message.StartsWith("unsupported reusable workflow '", StringComparison.Ordinal);
                var onUses = error.Line <= lines.Length && lines[error.Line - 1].Contains("uses:", StringComparison.Ordinal);
                if (!allowed || !onUses) problems.Add($"{Path.GetFileName(file)}:{error}");
            }
        }
        Assert.That(problems, Is.Empty);
    }

    [Test]
    public void Parse_CorpusFilesWithOnlyBuiltInActions_AreValid()
    {
        var valid = ConformanceFiles().Count(f => Parse(File.ReadAllText(f)).IsValid);

        Assert.That(valid, Is.GreaterThanOrEqualTo(5));
    }

    [TestCase("003-tokio-rs-tokio-ci.yml", "test-tokio-full", "os")]
    [TestCase("001-BurntSushi-ripgrep-ci.yml", "test", "include")]
    [TestCase("037-encode-httpx-test-suite.yml", "tests", "python-version")]
    public void Parse_CorpusFile_KeepsTheMatrix(string file, string job, string matrixKey)
    {
        var workflow = ParseCorpus(file);

        var matrix = workflow.Jobs.Single(j => j.Id == job).Strategy!.Matrix as JsonObject;
        Assert.That(matrix?.ContainsKey(matrixKey), Is.True);
    }

    [TestCase("003-tokio-rs-tokio-ci.yml")]
    [TestCase("027-pallets-flask-publish.yml")]
    [TestCase("053-DapperLib-Dapper-main.yml")]
    [TestCase("077-redis-redis-ci.yml")]
    public void Parse_CorpusFile_HasEveryJobOfTheFile(string file)
    {
        var text = File.ReadAllText(Path.Combine(ConformanceDirectory(), file));
        var jobsInText = CountJobs(text);

        var workflow = ParseCorpus(file);

        Assert.That(workflow.Jobs, Has.Count.EqualTo(jobsInText).And.Count.GreaterThan(0));
    }

    [Test]
    public void Parse_AnchorsInTheCorpus_ResolveToTheAnchoredValue()
    {
        var workflow = ParseCorpus("023-anchore-syft-validations.yml");

        var runsOn = workflow.Jobs.Select(j => j.RunsOn?.ToJsonString()).Where(r => r is not null && r.Contains("runs-on=", StringComparison.Ordinal)).ToList();
        Assert.That(runsOn, Has.Count.GreaterThanOrEqualTo(5));
    }

    [Test]
    public void Parse_TokioCi_ReadsTriggersConcurrencyAndDefaults()
    {
        var workflow = ParseCorpus("003-tokio-rs-tokio-ci.yml");

        Assert.Multiple(() =>
        {
            Assert.That(workflow.On.Push!.Branches, Is.EqualTo(new[] { "master", "tokio-*.x" }));
            Assert.That(workflow.Concurrency!.CancelInProgress!.Text, Is.EqualTo("true"));
            Assert.That(workflow.Defaults!.Shell!.Text, Is.EqualTo("bash"));
            Assert.That(workflow.Jobs.Single(j => j.Id == "basics").Needs, Is.EqualTo(new[] { "clippy", "fmt", "docs", "minrust" }));
        });
    }

    /// <summary>The workflow of a corpus file, built even when it has unsupported actions (which are its only errors).</summary>
    private static Modules.Pipelines.Workflow.Workflow ParseCorpus(string file)
    {
        var text = File.ReadAllText(Path.Combine(ConformanceDirectory(), file));
        var stripped = ReplaceThirdPartyActions(text);
        return Valid(stripped);
    }

    /// <summary>Replaces every unsupported <c>uses:</c> by <c>actions/checkout@v4</c>, so the rest can be checked.</summary>
    private static string ReplaceThirdPartyActions(string text)
    {
        var lines = text.Split('\n');
        foreach (var error in Parse(text).Errors.Where(e => e.Message.StartsWith("unsupported", StringComparison.Ordinal)))
        {
            var line = lines[error.Line - 1];
            var uses = line.IndexOf("uses:", StringComparison.Ordinal);
            var replacement = error.Message.StartsWith("unsupported action", StringComparison.Ordinal)
                ? "uses: actions/checkout@v4"
                : "uses: ./.github/workflows/replaced.yml";
            lines[error.Line - 1] = line[..uses] + replacement;
        }
        return string.Join('\n', lines);
    }

    /// <summary>Job ids are the keys indented one level under the top-level 'jobs:'.</summary>
    private static int CountJobs(string text)
    {
        var lines = text.Split('\n');
        var start = Array.FindIndex(lines, l => l.TrimEnd() == "jobs:");
        var count = 0;
        int? indent = null;
        for (var i = start + 1; i < lines.Length; i++)
        {
            var line = lines[i];
            if (line.Trim().Length == 0 || line.TrimStart().StartsWith('#')) continue;
            var spaces = line.Length - line.TrimStart().Length;
            if (spaces == 0) break;
            indent ??= spaces;
            if (spaces == indent && line.TrimEnd().EndsWith(':')) count++;
        }
        return count;
    }
}
