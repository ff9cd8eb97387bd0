using System.Security.Cryptography;
using System.Text;
using BuildServer.Modules.Pipelines.Expressions;
using static BuildServer.Tests.Pipelines.Expressions.ExpressionHarness;

namespace BuildServer.Tests.Pipelines.Expressions;

public sealed class HashFilesTests
{
    private string _workspace = "";

    [SetUp]
    public void CreateWorkspace()
    {
        _workspace = Directory.CreateTempSubdirectory("expr-hashfiles-").FullName;
        Write("a.txt", "alpha");
        Write("b.txt", "beta");
        Write("sub/c.txt", "gamma");
        Write("sub/deep/d.txt", "delta");
        Write("notes.log", "log");
        Write(".hidden/e.txt", "epsilon");
    }

    [TearDown]
    public void DeleteWorkspace() => Directory.Delete(_workspace, recursive: true);

    private void Write(string relative, string content)
    {
        var path = Path.Combine(_workspace, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    /// <summary>GitHub's algorithm, written out: SHA-256 over the SHA-256 of each file, in path order.</summary>
    private static string Expected(params string[] contents)
    {
        var digests = contents.SelectMany(c => SHA256.HashData(Encoding.UTF8.GetBytes(c))).ToArray();
        return Convert.ToHexStringLower(SHA256.HashData(digests));
    }

    private string Hash(string arguments) =>
        Expression.Parse($"hashFiles({arguments})", Options).EvaluateToString(Context(workspace: _workspace));

    [Test]
    public void HashFiles_RecursivePattern_HashesMatchesInPathOrder()
    {
        var result = Hash("'**/*.txt'");

        Assert.That(result, Is.EqualTo(Expected("epsilon", "alpha", "beta", "gamma", "delta")));
    }

    [Test]
    public void HashFiles_TopLevelPattern_DoesNotDescend()
    {
        var result = Hash("'*.txt'");

        Assert.That(result, Is.EqualTo(Expected("alpha", "beta")));
    }

    [Test]
    public void HashFiles_SeveralPatterns_HashEachFileOnce()
    {
        var result = Hash("'sub/**/*.txt', 'sub/c.txt', './a.txt'");

        Assert.That(result, Is.EqualTo(Expected("alpha", "gamma", "delta")));
    }

    [Test]
    public void HashFiles_NegatedPattern_Excludes()
    {
        var result = Hash("'**/*.txt', '!sub/**', '!.hidden/**'");

        Assert.That(result, Is.EqualTo(Expected("alpha", "beta")));
    }

    [Test]
    public void HashFiles_NoMatch_IsEmpty()
    {
        var result = Hash("'**/*.none'");

        Assert.That(result, Is.Empty);
    }

    [Test]
    public void HashFiles_PatternOutsideTheWorkspace_MatchesNothing()
    {
        var result = Hash("'/etc/passwd'");

        Assert.That(result, Is.Empty);
    }

    [Test]
    public void HashFiles_ChangedContent_ChangesTheHash()
    {
        var before = Hash("'**/*.txt'");
        Write("b.txt", "beta, edited");

        var after = Hash("'**/*.txt'");

        Assert.That(after, Is.Not.EqualTo(before));
    }

    [Test]
    public void HashFiles_DirectoryLinkCycle_IsNotFollowed()
    {
        Directory.CreateSymbolicLink(Path.Combine(_workspace, "sub", "loop"), _workspace);

        var result = Hash("'**/*.txt'");

        Assert.That(result, Is.EqualTo(Expected("epsilon", "alpha", "beta", "gamma", "delta")));
    }

    [Test]
    public void HashFiles_NoWorkspace_Fails()
    {
        var expression = Expression.Parse("hashFiles('*.txt')", Options);

        var error = Assert.Throws<ExpressionException>(() => expression.Evaluate(Context()))!.Error;

        Assert.That(error.Message, Does.Contain("no workspace"));
    }
}
