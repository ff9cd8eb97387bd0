using BuildServer.Modules.Executors;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Pipelines.Workflow;
using BuildServer.Modules.Runtime;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace BuildServer.Tests.Runtime;

public sealed class RuntimeModuleTests
{
    [Test]
    public void ConfigureServices_RegistersTheRunnerAndTheBuiltInKinds()
    {
        var dataRoot = Path.Combine(Path.GetTempPath(), "buildserver-module-" + Guid.NewGuid().ToString("N"));
        var services = new ServiceCollection().AddLogging().AddSingleton(TimeProvider.System).AddSingleton(new DataDirectory(dataRoot));
        new RuntimeModule().ConfigureServices(services, new ConfigurationBuilder().Build());
        using var provider = services.BuildServiceProvider();

        Assert.That(provider.GetRequiredService<IJobRunner>(), Is.InstanceOf<JobRunner>());
        Assert.That(provider.GetServices<IStepKindHandler>().Select(h => h.Kind),
            Is.EquivalentTo(new[] { "checkout", "upload-artifact", "download-artifact", "cache", "cache-restore", "cache-save", "local-action" }));
        Assert.That(provider.GetRequiredService<IOptions<JobRunnerOptions>>().Value.ToolCache, Is.EqualTo(Path.Combine(dataRoot, "tool-cache")));
        Directory.Delete(dataRoot, recursive: true);
    }

    [Test]
    public void ShellCommand_SplitsTheTemplateAndPlacesTheScript()
    {
        Assert.That(ShellExecution.ShellCommand("bash --noprofile --norc -eo pipefail {0}", "/w/s.sh"),
            Is.EqualTo(new[] { "bash", "--noprofile", "--norc", "-eo", "pipefail", "/w/s.sh" }));
        Assert.That(ShellExecution.ShellCommand("perl  -w", "/w/s"), Is.EqualTo(new[] { "perl", "-w", "/w/s" }));
    }

    [Test]
    public void Locate_OffsetAfterALineBreak_CountsLinesAndRestartsColumns()
    {
        var template = new Template("echo a\necho ${{ x }}", new SourcePos(5, 10));

        Assert.That(TemplateEvaluation.Locate(template, 3), Is.EqualTo(new SourcePos(5, 13)));
        Assert.That(TemplateEvaluation.Locate(template, 12), Is.EqualTo(new SourcePos(6, 6)));
    }
}
