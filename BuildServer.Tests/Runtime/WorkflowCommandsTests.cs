using BuildServer.Modules.Runtime;

namespace BuildServer.Tests.Runtime;

public sealed class WorkflowCommandsTests
{
    [Test]
    public void TryParse_CommandWithProperties_UnescapesDataAndProperties()
    {
        var parsed = WorkflowCommands.TryParse("::warning file=a%2Cb.cs,line=3::50%25 done%0D%0Anext", out var command);

        Assert.That(parsed, Is.True);
        Assert.That(command!.Name, Is.EqualTo("warning"));
        Assert.That(command.Properties["file"], Is.EqualTo("a,b.cs"));
        Assert.That(command.Data, Is.EqualTo("50% done\r\nnext"));
    }

    [Test]
    public void Unescape_EscapedPercentBeforeCode_StaysLiteral() =>
        Assert.That(WorkflowCommands.Unescape("%250A", property: false), Is.EqualTo("%0A"));

    [TestCase("plain text")]
    [TestCase(":: no name")]
    [TestCase("::unterminated")]
    public void TryParse_NotACommand_IsFalse(string line) => Assert.That(WorkflowCommands.TryParse(line, out _), Is.False);
}
