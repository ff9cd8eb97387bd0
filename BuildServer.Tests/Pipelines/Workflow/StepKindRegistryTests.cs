using BuildServer.Modules.Pipelines.Workflow;

namespace BuildServer.Tests.Pipelines.Workflow;

public sealed class StepKindRegistryTests
{
    [TestCase("actions/checkout@v4", "checkout")]
    [TestCase("Actions/Checkout@main", "checkout")]
    [TestCase("actions/checkout@8ade135a41bc03ea155e62e844d188df1ea18608", "checkout")]
    [TestCase("actions/upload-artifact@v4", "upload-artifact")]
    [TestCase("actions/download-artifact@v4", "download-artifact")]
    [TestCase("actions/cache@v4", "cache")]
    [TestCase("actions/cache/restore@v4", "cache-restore")]
    [TestCase("actions/cache/save@v4", "cache-save")]
    [TestCase("./.github/actions/setup", "local-action")]
    [TestCase("actions/checkout", null)]
    [TestCase("actions/checkout@", null)]
    [TestCase("actions/setup-node@v4", null)]
    [TestCase("docker://alpine:3", null)]
    [TestCase("./", null)]
    [TestCase("", null)]
    public void Resolve_BuiltIns_MapToTheirKinds(string uses, string? kind)
    {
        Assert.That(new StepKindRegistry().Resolve(uses), Is.EqualTo(kind));
    }

    [Test]
    public void Resolve_PluginClaims_AreAddedButCannotReplaceABuiltIn()
    {
        var registry = new StepKindRegistry([new StepKindClaim("acme/deploy", "acme-deploy"), new StepKindClaim("actions/checkout", "hijack")]);

        Assert.Multiple(() =>
        {
            Assert.That(registry.Resolve("ACME/deploy@v2"), Is.EqualTo("acme-deploy"));
            Assert.That(registry.Resolve("actions/checkout@v4"), Is.EqualTo("checkout"));
        });
    }

    [Test]
    public void Parse_WithAPluginKind_AcceptsTheAction()
    {
        var parser = new WorkflowParser(new StepKindRegistry([new StepKindClaim("dtolnay/rust-toolchain", "rust-toolchain")]));

        var result = parser.Parse("jobs: { a: { steps: [{ uses: dtolnay/rust-toolchain@stable }] } }");

        Assert.That(result.Workflow!.Jobs[0].Steps[0].Kind, Is.EqualTo("rust-toolchain"));
    }
}
