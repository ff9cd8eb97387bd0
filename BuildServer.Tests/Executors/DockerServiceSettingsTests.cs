using BuildServer.Modules.Executors;
using BuildServer.Modules.Executors.Docker;

namespace BuildServer.Tests.Executors;

/// <summary>A service's <c>options</c> and <c>ports</c> as GitHub users write them, parsed without an engine.</summary>
[TestFixture]
public sealed class DockerServiceSettingsTests
{
    [Test]
    public void From_HealthFlagsAsWrittenForPostgres_GiveTheEngineTheirValues()
    {
        var service = new ExecutionContainer("postgres:16", new Dictionary<string, string>(),
            "--health-cmd \"pg_isready -U postgres\" --health-interval 10s --health-timeout=5s --health-retries 5 --health-start-period 1m30s --memory 512m");

        var settings = ServiceSettings.From("postgres", service, new DockerExecutorOptions());

        Assert.Multiple(() =>
        {
            Assert.That(settings.Health!.Test, Is.EqualTo(new[] { "CMD-SHELL", "pg_isready -U postgres" }));
            Assert.That(settings.Health.Interval, Is.EqualTo(TimeSpan.FromSeconds(10)));
            Assert.That(settings.Health.Timeout, Is.EqualTo(TimeSpan.FromSeconds(5)));
            Assert.That(settings.Health.Retries, Is.EqualTo(5));
            Assert.That(settings.Health.StartPeriod, Is.EqualTo(TimeSpan.FromSeconds(90)));
            Assert.That(settings.Limits.Memory, Is.EqualTo(512L << 20));
            Assert.That(settings.Limits.HostNetwork, Is.False);
        });
    }

    [Test]
    public void From_NoOptions_KeepsTheImagesHealthCheckAndTheAgentsDefaultLimits()
    {
        var settings = ServiceSettings.From("redis", new ExecutionContainer("redis:7", new Dictionary<string, string>(), null), new DockerExecutorOptions { Pids = 64 });

        Assert.That(settings.Health, Is.Null);
        Assert.That(settings.Limits.Pids, Is.EqualTo(64));
    }

    [TestCase("6379")]
    [TestCase("6379:6379")]
    [TestCase("6379:6379/tcp")]
    [TestCase("127.0.0.1:6379:6379")]
    public void From_PortOfTheSameNumber_IsAccepted(string port)
    {
        var service = new ExecutionContainer("redis:7", new Dictionary<string, string>(), null) { Ports = [port] };

        Assert.That(ServiceSettings.From("redis", service, new DockerExecutorOptions()).Name, Is.EqualTo("redis"));
    }

    [TestCase("500ms", 500)]
    [TestCase("2s", 2000)]
    [TestCase("1m30s", 90_000)]
    [TestCase("1.5h", 5_400_000)]
    public void Duration_GoSyntax_IsRead(string text, int milliseconds)
    {
        Assert.That(ServiceSettings.Duration("--health-interval", text, "option"), Is.EqualTo(TimeSpan.FromMilliseconds(milliseconds)));
    }
}
