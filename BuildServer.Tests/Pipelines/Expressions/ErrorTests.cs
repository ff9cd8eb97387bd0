using BuildServer.Modules.Pipelines.Expressions;
using static BuildServer.Tests.Pipelines.Expressions.ExpressionHarness;

namespace BuildServer.Tests.Pipelines.Expressions;

public sealed class ErrorTests
{
    [TestCase("'abc", 0, "Unterminated string")]
    [TestCase("1 == 'abc", 5, "Unterminated string")]
    [TestCase("1 ==", 4, "Unexpected end of expression")]
    [TestCase("(1 == 2", 7, "Unexpected end of expression")]
    [TestCase("ctx.array[0", 11, "Unexpected end of expression")]
    [TestCase("1 = 2", 2, "Unexpected symbol: '='")]
    [TestCase("ctx & 1", 4, "Unexpected symbol: '&'")]
    [TestCase("github.sha )", 11, "Unexpected symbol: ')'")]
    [TestCase("github.1", 7, "Unexpected symbol: '1'")]
    [TestCase("\"abc\"", 0, "single quotes")]
    [TestCase("1 2", 2, "Unexpected symbol: '2'")]
    [TestCase("'abc'.length", 5, "Unexpected symbol: '.'")]
    [TestCase("true && && false", 8, "Unexpected symbol: '&&'")]
    [TestCase("format('{0}', )", 14, "Unexpected symbol: ')'")]
    [TestCase("matrix.node - 1", 12, "Unexpected symbol: '-'")]
    [TestCase("0x", 0, "Unexpected symbol: '0x'")]
    [TestCase("1.2.3", 0, "Unexpected symbol: '1.2.3'")]
    [TestCase("ctx[*", 5, "Unexpected end of expression")]
    [TestCase("ctx.a$b", 4, "Unexpected symbol: 'a$b'")]
    [TestCase("", 0, "An expression was expected")]
    [TestCase("   ", 0, "An expression was expected")]
    public void Parse_SyntaxError_ReportsMessageAndOffset(string expression, int offset, string message)
    {
        var error = ParseError(expression);

        Assert.Multiple(() =>
        {
            Assert.That(error.Message, Does.Contain(message));
            Assert.That(error.Offset, Is.EqualTo(offset));
        });
    }

    [TestCase("foo(1)", 0, "Unrecognized function: 'foo'")]
    [TestCase("1 == bar()", 5, "Unrecognized function: 'bar'")]
    [TestCase("  contains('a')", 2, "Too few arguments for 'contains'")]
    [TestCase("startsWith('a', 'b', 'c')", 0, "Too many arguments for 'startsWith'")]
    [TestCase("success(1)", 0, "Too many arguments for 'success'")]
    [TestCase("join()", 0, "Too few arguments for 'join'")]
    [TestCase("toJson(1, 2)", 0, "Too many arguments for 'toJSON'")]
    public void Parse_BadFunction_NamesTheFunction(string expression, int offset, string message)
    {
        var error = ParseError(expression);

        Assert.Multiple(() =>
        {
            Assert.That(error.Message, Does.Contain(message));
            Assert.That(error.Offset, Is.EqualTo(offset));
        });
    }

    [Test]
    public void Parse_WrongArity_SpansTheWholeCall()
    {
        var error = ParseError("x == contains('a')".Replace("x", "ctx", StringComparison.Ordinal));

        Assert.That((error.Offset, error.Length), Is.EqualTo((7, 13)));
    }

    [Test]
    public void Parse_FunctionNotAllowedHere_SaysSo()
    {
        var options = new ExpressionParseOptions(["github"]);

        var error = ParseError("hashFiles('**/*.cs') || success()", options);

        Assert.Multiple(() =>
        {
            Assert.That(error.Message, Does.Contain("'hashFiles' is not available here"));
            Assert.That(error.Offset, Is.Zero);
        });
    }

    [TestCase("secrets.token", 0, "secrets")]
    [TestCase("github.ref == steps.x.outputs.y", 14, "steps")]
    [TestCase("format('{0}', runner.os)", 14, "runner")]
    public void Parse_UnknownContext_NamesItAndListsTheAllowedOnes(string expression, int offset, string name)
    {
        var error = ParseError(expression);

        Assert.Multiple(() =>
        {
            Assert.That(error.Message, Does.Contain($"Unrecognized named-value: '{name}'"));
            Assert.That(error.Message, Does.Contain("ctx, env, github, matrix"));
            Assert.That(error.Offset, Is.EqualTo(offset));
        });
    }

    [Test]
    public void Parse_ContextNotAllowedAtThisLocation_Fails()
    {
        var runsOn = new ExpressionParseOptions(["github", "needs", "inputs", "vars"]);

        var ok = Expression.TryParse("matrix.os", runsOn, out _, out var error);

        Assert.Multiple(() =>
        {
            Assert.That(ok, Is.False);
            Assert.That(error!.Message, Does.Contain("'matrix'"));
        });
    }

    [TestCase("ctx.a == 1 && format('{1}', 'a')", 14)]
    [TestCase("toJSON(fromJSON('[1, }'))", 7)]
    public void Evaluate_FailingFunction_ReportsItsOffset(string expression, int offset)
    {
        var error = EvaluationError(expression, """{ "ctx": { "a": 1 } }""");

        Assert.That(error.Offset, Is.EqualTo(offset));
    }

    [Test]
    public void Parse_Valid_ReturnsNoError()
    {
        var ok = Expression.TryParse("contains(github.ref, 'main') && !(matrix.node < 18)", Options, out var expression, out var error);

        Assert.Multiple(() =>
        {
            Assert.That(ok, Is.True);
            Assert.That(error, Is.Null);
            Assert.That(expression!.Text, Does.StartWith("contains"));
        });
    }
}
