using BuildServer.Modules.Pipelines;
using BuildServer.Modules.Pipelines.Workflow;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using static BuildServer.Tests.Pipelines.Workflow.WorkflowHarness;

namespace BuildServer.Tests.Pipelines.Workflow;

public sealed class WorkflowModuleTests
{
    [Test]
    public void ConfigureServices_RegistersTheParserWithPluginClaims()
    {
        var services = new ServiceCollection();
        new PipelinesModule().ConfigureServices(services, new ConfigurationBuilder().Build());
        services.AddSingleton(new StepKindClaim("acme/deploy", "acme-deploy"));
        using var provider = services.BuildServiceProvider();

        var parser = provider.GetRequiredService<IWorkflowParser>();
        var result = parser.Parse("jobs: { a: { steps: [{ uses: acme/deploy@v1 }, { uses: actions/checkout@v4 }] } }");

        Assert.Multiple(() =>
        {
            Assert.That(result.Workflow!.Jobs[0].Steps.Select(s => s.Kind), Is.EqualTo(new[] { "acme-deploy", "checkout" }));
            Assert.That(provider.GetRequiredService<IStepKindRegistry>(), Is.InstanceOf<StepKindRegistry>());
        });
    }

    [Test]
    public void Parse_ThousandsOfErrors_AreCapped()
    {
        var yaml = "jobs: { a: { steps: [{ run: x }] } }\n" + string.Concat(Enumerable.Range(0, 3000).Select(i => $"unknown{i}: x\n"));

        var errors = Errors(yaml);

        Assert.Multiple(() =>
        {
            Assert.That(errors, Has.Count.EqualTo(1000));
            Assert.That(errors[^1], Is.EqualTo("1001:1: 2001 more errors from here on are not shown; fix the ones above first."));
        });
    }

    [Test]
    public void Parse_ALargeValidFile_Parses()
    {
        var job = "    runs-on: [linux]\n    steps:\n" + string.Concat(Enumerable.Range(0, 40).Select(i => $"      - name: step {i}\n        run: echo ${{{{ matrix.os }}}} {i}\n"));
        var yaml = "on: push\njobs:\n" + string.Concat(Enumerable.Range(0, 400).Select(i => $"  job{i}:\n    strategy: {{ matrix: {{ os: [a, b] }} }}\n" + job));
        Assert.That(yaml.Length, Is.LessThan(1024 * 1024).And.GreaterThan(512 * 1024));

        var workflow = Valid(yaml);

        Assert.That(workflow.Jobs.Sum(j => j.Steps.Count), Is.EqualTo(16000));
    }
}
