using BuildServer.Modules.Pipelines.Planning;

namespace BuildServer.Tests.Pipelines.Workflow;

/// <summary>The inputs of a run against the workflow's declared <c>workflow_dispatch</c> inputs.</summary>
public sealed class DispatchInputsTests
{
    private const string Declared = """
        on:
          workflow_dispatch:
            inputs:
              target: { type: string, required: true }
              note: { type: string }
              level: { type: choice, options: [info, debug], default: info, required: true }
        jobs: { a: { steps: [{ run: x }] } }
        """;

    [TestCase("")]
    [TestCase("   ")]
    public void Resolve_ARequiredInputGivenEmpty_IsRefusedAsMissing(string empty)
    {
        var (_, errors) = DispatchInputs.Resolve(WorkflowHarness.Valid(Declared), new Dictionary<string, string> { ["target"] = empty, ["note"] = "" });

        Assert.That(errors, Is.EqualTo(new[] { new InputError("inputs.target", "Input 'target' is required.") }));
    }

    [Test]
    public void Resolve_AnOptionalInputGivenEmpty_IsEmpty_AndDefaultsApply()
    {
        var (inputs, errors) = DispatchInputs.Resolve(WorkflowHarness.Valid(Declared), new Dictionary<string, string> { ["target"] = "prod", ["note"] = "" });

        Assert.That(errors, Is.Empty);
        Assert.That(inputs.ToJsonString(), Is.EqualTo("""{"target":"prod","note":"","level":"info"}"""));
    }

    [Test]
    public void Declared_ListsTheInputsInTheOrderWritten()
    {
        Assert.That(DispatchInputs.Declared(WorkflowHarness.Valid(Declared)).Keys, Is.EqualTo(new[] { "target", "note", "level" }));
    }
}
