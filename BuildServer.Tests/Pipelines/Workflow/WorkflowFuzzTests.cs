using BuildServer.Modules.Pipelines.Workflow;
using static BuildServer.Tests.Pipelines.Workflow.WorkflowHarness;

namespace BuildServer.Tests.Pipelines.Workflow;

/// <summary>
/// Property: for any mutation of a real or hand-written workflow, the parser returns (no exception, no internal
/// error) and every error has a position in the file. Seeded, so a failure reproduces.
/// </summary>
public sealed class WorkflowFuzzTests
{
    private const int Iterations = 4000;

    private static readonly string[] Fragments = [":", "-", "[", "]", "{", "}", "'", "\"", "*", "&", "&a ", "*a", "${{", "}}", "${{ matrix.", "|", ">", "#", "\t", "? ", "<<: ", "!!str ", "%", "@", ",", "\n", "\\", "\u00e9", "\ud83d\ude00"];

    private static readonly string[] Replacements = ["[a, b]", "{ a: 1 }", "\n        - x\n        - y", "\n        k: v", "~", "''", "*a", "${{ fromJSON('x') }}", "123", "true"];

    private const string OwnWorkflow = """
        name: own
        on:
          push: { branches: [main], paths-ignore: ['docs/**'] }
          schedule: [{ cron: '*/15 1-5 * JAN,FEB MON-FRI' }]
          workflow_dispatch:
            inputs:
              level: { type: choice, options: [a, b], default: a }
        env: &env { A: "1" }
        defaults: { run: { shell: bash } }
        concurrency: { group: "${{ github.ref }}", cancel-in-progress: true }
        permissions: { contents: read }
        priority: normal
        jobs:
          build:
            runs-on: ${{ matrix.os }}
            timeout-minutes: ${{ matrix.t }}
            env: *env
            strategy:
              matrix:
                os: [linux, windows]
                t: [5, 10]
                include: [{ os: mac, t: 1 }]
                exclude: [{ os: windows, t: 5 }]
            retry: { max-attempts: 2, backoff: fixed, delay: 5s }
            container: { image: "alpine:3", ports: [80] }
            services: { db: postgres }
            steps:
              - uses: actions/checkout@v4
              - id: test
                if: ${{ success() && matrix.os == 'linux' }}
                run: |
                  echo ${{ matrix.os }}
                  echo '${{ hashFiles('x') }}'
          deploy:
            needs: [build]
            environment: { name: prod, url: "${{ steps.d.outputs.url }}" }
            if: github.ref == 'refs/heads/main'
            steps: [{ id: d, run: ./deploy.sh }]
          call:
            uses: ./.github/workflows/other.yml
            secrets: inherit
        """;

    [Test]
    public void Parse_MutatedWorkflows_NeverThrowAndPositionEveryError()
    {
        var seeds = ConformanceFiles().Select(File.ReadAllText).Append(OwnWorkflow).Append(WithJob("steps: [{ run: x }]")).ToList();
        var random = new Random(20_261_124);
        var failures = new List<string>();
        for (var i = 0; i < Iterations && failures.Count < 5; i++)
        {
            var text = seeds[random.Next(seeds.Count)];
            var mutations = random.Next(1, 4);
            for (var m = 0; m < mutations; m++) text = Mutate(text, random);
            try
            {
                Check(text, failures);
            }
            catch (Exception e) when (e is not AssertionException)
            {
                failures.Add($"iteration {i}: {e}\n---\n{text}");
            }
        }
        Assert.That(failures, Is.Empty);
    }

    [Test]
    public void Parse_EveryPrefixOfAWorkflow_NeverThrows()
    {
        var failures = new List<string>();
        for (var length = 0; length <= OwnWorkflow.Length; length += 7) Check(OwnWorkflow[..length], failures);

        Assert.That(failures, Is.Empty);
    }

    private static void Check(string text, List<string> failures)
    {
        var result = Parser.ParseUnguarded(text);
        var internalError = result.Errors.FirstOrDefault(e => e.Message.StartsWith(WorkflowParser.InternalErrorPrefix, StringComparison.Ordinal));
        if (internalError is not null) failures.Add($"{internalError}\n---\n{text}");
        if (result.Errors.Any(e => e.Line < 1 || e.Column < 1)) failures.Add($"unpositioned error: {string.Join("; ", result.Errors)}");
        if (result.Workflow is not null && result.Errors.Count > 0) failures.Add("a workflow with errors was returned");
        if (result.Workflow is null && result.Errors.Count == 0) failures.Add("neither a workflow nor an error");
    }

    private static string Mutate(string text, Random random)
    {
        var lines = text.Split('\n').ToList();
        var line = random.Next(lines.Count);
        switch (random.Next(9))
        {
            case 0:
                lines.RemoveAt(line);
                break;
            case 1:
                lines.Insert(line, lines[line]);
                break;
            case 2:
                var other = random.Next(lines.Count);
                (lines[line], lines[other]) = (lines[other], lines[line]);
                break;
            case 3:
                lines[line] = random.Next(2) == 0 ? new string(' ', random.Next(1, 5)) + lines[line] : lines[line].TrimStart();
                break;
            case 4:
                var at = random.Next(text.Length + 1);
                return text[..at] + Fragments[random.Next(Fragments.Length)] + text[at..];
            case 5:
                if (text.Length == 0) return text;
                var from = random.Next(text.Length);
                return text.Remove(from, Math.Min(random.Next(1, 4), text.Length - from));
            case 6:
                return text[..random.Next(text.Length + 1)];
            case 7:
                var colon = lines[line].IndexOf(": ", StringComparison.Ordinal);
                if (colon > 0) lines[line] = lines[line][..(colon + 2)] + Replacements[random.Next(Replacements.Length)];
                break;
            default:
                lines[line] = lines[line].Replace(" ", "", StringComparison.Ordinal);
                break;
        }
        return string.Join('\n', lines);
    }
}
