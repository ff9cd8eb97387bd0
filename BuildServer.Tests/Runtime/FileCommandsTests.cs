using BuildServer.Modules.Runtime;

namespace BuildServer.Tests.Runtime;

public sealed class FileCommandsTests
{
    [Test]
    public void ParseKeyValues_BothForms_InOrder()
    {
        var values = new List<KeyValuePair<string, string>>();

        var error = FileCommands.ParseKeyValues("A=1\r\n\nB<<EOF\nx=y\n\nz\nEOF\nC=a=b\nD=\n", values);

        Assert.That(error, Is.Null);
        Assert.That(values, Is.EqualTo(new KeyValuePair<string, string>[] { new("A", "1"), new("B", "x=y\n\nz"), new("C", "a=b"), new("D", "") }));
    }

    [TestCase("=value", "invalid format '=value': the name is empty")]
    [TestCase("JUSTANAME", "invalid format 'JUSTANAME'")]
    [TestCase("X<<", "invalid format 'X<<'")]
    [TestCase("X<<END\nno end", "matching delimiter not found 'END'")]
    public void ParseKeyValues_Malformed_SaysWhat(string content, string expected) =>
        Assert.That(FileCommands.ParseKeyValues(content, []), Is.EqualTo(expected));
}
