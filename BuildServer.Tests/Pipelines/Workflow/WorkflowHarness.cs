using BuildServer.Modules.Pipelines.Workflow;
using BuildServer.Tests.Infrastructure;

namespace BuildServer.Tests.Pipelines.Workflow;

/// <summary>One parser with the built-in step kinds, and shortcuts for what the tests assert.</summary>
internal static class WorkflowHarness
{
    public static readonly WorkflowParser Parser = new(new StepKindRegistry());

    public static WorkflowParseResult Parse(string yaml) => Parser.Parse(yaml);

    /// <summary>Parses a file that must be valid, and returns the workflow (failing with its errors otherwise).</summary>
    public static Modules.Pipelines.Workflow.Workflow Valid(string yaml)
    {
        var result = Parser.Parse(yaml);
        Assert.That(result.Errors.Select(e => e.ToString()), Is.Empty);
        return result.Workflow!;
    }

    /// <summary>The errors as "line:column: message".</summary>
    public static List<string> Errors(string yaml) => Parser.Parse(yaml).Errors.Select(e => e.ToString()).ToList();

    /// <summary>The single error of a file with exactly one.</summary>
    public static WorkflowError SingleError(string yaml)
    {
        var result = Parser.Parse(yaml);
        Assert.That(result.Errors, Has.Count.EqualTo(1), string.Join("\n", result.Errors));
        Assert.That(result.Workflow, Is.Null);
        return result.Errors[0];
    }

    /// <summary>A minimal valid workflow around one job body (indented under <c>jobs.build</c>).</summary>
    public static string WithJob(string jobBody) =>
        "on: push\njobs:\n  build:\n" + string.Join("\n", jobBody.Split('\n').Select(l => "    " + l)) + "\n";

    /// <summary>The conformance corpus: env BUILDSERVER_CONFORMANCE_DIR, else beside the repository, else /work/shared.</summary>
    public static string ConformanceDirectory()
    {
        var candidates = new[]
        {
            Environment.GetEnvironmentVariable("BUILDSERVER_CONFORMANCE_DIR"),
            Path.Combine(Repository.Root, "..", "shared", "conformance", "workflows"),
            "/work/shared/conformance/workflows",
        };
        var found = candidates.FirstOrDefault(c => !string.IsNullOrEmpty(c) && Directory.Exists(c));
        Assert.That(found, Is.Not.Null, "The conformance corpus was not found; set BUILDSERVER_CONFORMANCE_DIR. Looked in: " + string.Join(", ", candidates));
        return Path.GetFullPath(found!);
    }

    public static IReadOnlyList<string> ConformanceFiles() =>
        Directory.GetFiles(ConformanceDirectory(), "*.yml").Order(StringComparer.Ordinal).ToList();
}
