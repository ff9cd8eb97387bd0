using System.Net;
using System.Text.Json.Nodes;
using BuildServer.Tests.Infrastructure;

namespace BuildServer.Tests.Api;

/// <summary>
/// Property test of the trigger API: thousands of random mutations of valid workflow files (the project's
/// conformance workflows and real public ones) go to <c>POST /projects/{p}/runs</c>; every answer is a 201 or a
/// 400 problem with the errors, never a 5xx, and the server stays healthy. The built-in agent is off, so
/// accepted runs just wait.
/// </summary>
[TestFixture(Db.Sqlite, 2000)]
[TestFixture(Db.Postgres, 300)]
[NonParallelizable]
public sealed class TriggerFuzzTests(Db db, int mutations)
{
    private const int Seed = 20261124;

    private ServerProcess _server = null!;
    private ApiClient _api = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _server = await ServerProcess.StartAsync(db, "--Agent:Slots=0");
        _api = _server.Client();
        await _api.CreateProjectAsync("fuzz");
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        _api.Dispose();
        await _server.DisposeAsync();
    }

    [Test]
    public async Task MutatedWorkflows_NeverGetA5xx()
    {
        var seeds = ConformanceFiles.Own().Concat(ConformanceFiles.Public()).Select(File.ReadAllText).ToList();
        Assert.That(seeds, Has.Count.GreaterThan(40), "the seed workflows were found");
        var random = new Random(Seed);
        var answers = new Dictionary<HttpStatusCode, int>();
        for (var i = 0; i < mutations; i++)
        {
            var yaml = WorkflowMutator.Mutate(seeds[random.Next(seeds.Count)], random);
            using var response = await _api.TriggerAsync("fuzz", yaml);
            answers[response.StatusCode] = answers.GetValueOrDefault(response.StatusCode) + 1;
            var body = await response.Content.ReadAsStringAsync();
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created).Or.EqualTo(HttpStatusCode.BadRequest),
                $"mutation {i} (seed {Seed}) got {(int)response.StatusCode}: {body}\n--- workflow ---\n{yaml}");
            if (response.StatusCode == HttpStatusCode.BadRequest)
            {
                var problem = JsonNode.Parse(body)!;
                Assert.That(problem["errors"]!.AsObject(), Is.Not.Empty, body);
            }
        }
        TestContext.Out.WriteLine(string.Join(", ", answers.Select(a => $"{(int)a.Key}: {a.Value}")));
        using var health = await _server.Client().Http.GetAsync(new Uri(_server.BaseAddress, "/healthz"));
        Assert.That(health.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(answers.Keys, Does.Contain(HttpStatusCode.Created).And.Contain(HttpStatusCode.BadRequest), "the mutations hit both sides");
    }
}

/// <summary>Random, plausible damage to a YAML text: the kinds of mistakes people make, and some they don't.</summary>
public static class WorkflowMutator
{
    private static readonly string[] Tokens =
        [":", "-", "[", "]", "{", "}", "'", "\"", "*", "&a", "*a", "${{", "}}", "${{ matrix.x }}", "${{ needs.a.outputs.b", "#", "|", ">", "\t", "\0", "\\u0000", "!!binary", "<<: *a", "? ", "%", "@"];

    private static readonly string[] Keys =
        ["runs-on", "needs", "if", "strategy", "matrix", "steps", "uses", "with", "env", "timeout-minutes", "continue-on-error", "shell", "on", "jobs", "outputs", "services", "container", "priority", "retry"];

    public static string Mutate(string yaml, Random random)
    {
        var lines = yaml.Split('\n').ToList();
        var rounds = random.Next(1, 4);
        for (var r = 0; r < rounds && lines.Count > 0; r++)
        {
            var i = random.Next(lines.Count);
            switch (random.Next(10))
            {
                case 0: lines.RemoveAt(i); break;
                case 1: lines.Insert(i, lines[i]); break;
                case 2:
                    var j = random.Next(lines.Count);
                    (lines[i], lines[j]) = (lines[j], lines[i]);
                    break;
                case 3: lines[i] = random.Next(2) == 0 ? "  " + lines[i] : lines[i].TrimStart().PadLeft(Math.Max(0, lines[i].Length - 2)); break;
                case 4:
                    var at = random.Next(lines[i].Length + 1);
                    lines[i] = lines[i].Insert(at, Tokens[random.Next(Tokens.Length)]);
                    break;
                case 5:
                    if (lines[i].Length > 0) lines[i] = lines[i].Remove(random.Next(lines[i].Length), 1);
                    break;
                case 6: lines = lines.Take(random.Next(lines.Count + 1)).ToList(); break;
                case 7:
                    var colon = lines[i].IndexOf(": ", StringComparison.Ordinal);
                    if (colon > 0) lines[i] = lines[i][..(colon + 2)] + (random.Next(3) switch { 0 => "[1, 2]", 1 => "{a: b}", _ => "" });
                    break;
                case 8:
                    var indent = lines[i].Length - lines[i].TrimStart().Length;
                    lines.Insert(i, new string(' ', indent) + Keys[random.Next(Keys.Length)] + ": " + Tokens[random.Next(Tokens.Length)]);
                    break;
                default:
                    var k = lines[i].IndexOf(':', StringComparison.Ordinal);
                    if (k > 0) lines[i] = lines[i][..k].Replace(lines[i].Trim().Split(':')[0], Keys[random.Next(Keys.Length)]) + lines[i][k..];
                    break;
            }
        }
        var text = string.Join('\n', lines);
        return text.Length > 200_000 ? text[..200_000] : text;
    }
}

/// <summary>The workflow files tests use as seeds: the project's own conformance workflows and the real public
/// ones of <c>../shared/conformance/workflows</c> (a test that needs them fails when they are missing).</summary>
public static class ConformanceFiles
{
    public static IEnumerable<string> Own() =>
        Directory.GetFiles(Path.Combine(Repository.Root, "BuildServer.Tests", "Conformance", "workflows"), "*.yml").Order(StringComparer.Ordinal);

    public static IEnumerable<string> Public()
    {
        var candidates = new[]
        {
            Environment.GetEnvironmentVariable("BUILDSERVER_CONFORMANCE_DIR"),
            Path.Combine(Repository.Root, "..", "shared", "conformance", "workflows"),
            "/work/shared/conformance/workflows",
        };
        var folder = candidates.FirstOrDefault(c => c is not null && Directory.Exists(c))
            ?? throw new DirectoryNotFoundException("The public conformance workflows were not found (../shared/conformance/workflows or BUILDSERVER_CONFORMANCE_DIR).");
        return Directory.GetFiles(folder, "*.yml").Order(StringComparer.Ordinal);
    }
}
