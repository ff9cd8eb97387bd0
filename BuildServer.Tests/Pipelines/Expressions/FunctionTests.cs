using BuildServer.Modules.Pipelines.Expressions;
using static BuildServer.Tests.Pipelines.Expressions.ExpressionHarness;

namespace BuildServer.Tests.Pipelines.Expressions;

public sealed class FunctionTests
{
    [TestCase("contains('Hello world', 'WORLD')", true)]
    [TestCase("contains('abc', 'd')", false)]
    [TestCase("contains(123, 2)", true)]
    [TestCase("contains(true, 'ru')", true)]
    [TestCase("contains('abc', ctx.array)", false)]
    [TestCase("contains(ctx.array, 'B')", true)]
    [TestCase("contains(ctx.array, 'd')", false)]
    [TestCase("contains(ctx.numbers, '2')", true)]
    [TestCase("contains(ctx.numbers, 4)", false)]
    [TestCase("contains(fromJSON('[null]'), 0)", true)]
    [TestCase("contains(ctx.object, 'name')", false)]
    [TestCase("CONTAINS(ctx.array, 'a')", true)]
    public void Contains_StringsAndArrays_SearchesCaseInsensitively(string expression, bool expected)
    {
        var result = IsTruthy(expression);

        Assert.That(result, Is.EqualTo(expected));
    }

    [TestCase("startsWith('Hello world', 'HELLO')", true)]
    [TestCase("startsWith('Hello world', 'world')", false)]
    [TestCase("startsWith(12, 1)", true)]
    [TestCase("startsWith(ctx.array, 'a')", false)]
    [TestCase("endsWith('file.TXT', '.txt')", true)]
    [TestCase("endsWith('file.txt', '.md')", false)]
    [TestCase("endsWith('abc', '')", true)]
    [TestCase("endswith('ABC', 'c')", true)]
    public void StartsWithEndsWith_Primitives_CompareCaseInsensitively(string expression, bool expected)
    {
        var result = IsTruthy(expression);

        Assert.That(result, Is.EqualTo(expected));
    }

    [TestCase("format('Hello {0} {1}', 'Mona', 'the Octocat')", "Hello Mona the Octocat")]
    [TestCase("format('{0}{0}-{1}', 'a', 1)", "aa-1")]
    [TestCase("format('{{0}}', 'abc')", "{0}")]
    [TestCase("format('{{{0}}}', 'x')", "{x}")]
    [TestCase("format('}}{{')", "}{")]
    [TestCase("format('{0}', null)", "")]
    [TestCase("format(null)", "")]
    [TestCase("format('{0}|{1}', true, ctx.array)", "true|Array")]
    [TestCase("format('{0}', ctx.object)", "Object")]
    public void Format_ValidString_Substitutes(string expression, string expected)
    {
        var result = EvaluateString(expression);

        Assert.That(result, Is.EqualTo(expected));
    }

    [TestCase("format('{0')")]
    [TestCase("format('{0}}', 'a')")]
    [TestCase("format('}')")]
    [TestCase("format('{{0}', 'a')")]
    [TestCase("format('{a}', 'a')")]
    [TestCase("format('{0:x}', 'a')")]
    [TestCase("format('{}', 'a')")]
    public void Format_InvalidString_Fails(string expression)
    {
        var error = EvaluationError(expression);

        Assert.That(error.Message, Does.Contain("format string is invalid"));
    }

    [TestCase("format('{0}')", "{0}")]
    [TestCase("format('{0}{1}', 'a')", "{1}")]
    public void Format_IndexBeyondArguments_FailsNamingTheIndex(string expression, string index)
    {
        var error = EvaluationError(expression);

        Assert.That(error.Message, Does.Contain($"references {index}"));
    }

    [TestCase("join(ctx.array)", "a,b,c")]
    [TestCase("join(ctx.array, ' | ')", "a | b | c")]
    [TestCase("join(ctx.array, null)", "abc")]
    [TestCase("join(ctx.array, ctx.object)", "a,b,c")]
    [TestCase("join('abc', '-')", "abc")]
    [TestCase("join(1.5)", "1.5")]
    [TestCase("join(null)", "")]
    [TestCase("join(ctx.object)", "")]
    [TestCase("join(fromJSON('[null, true, 1.5, \"x\", [], {}]'))", ",true,1.5,x,Array,Object")]
    public void Join_Values_JoinsAsGitHub(string expression, string expected)
    {
        var result = EvaluateString(expression);

        Assert.That(result, Is.EqualTo(expected));
    }

    [TestCase("toJSON(null)", "null")]
    [TestCase("toJSON(true)", "true")]
    [TestCase("toJSON(-0)", "0")]
    [TestCase("toJSON(1234.5)", "1234.5")]
    [TestCase("toJSON('a\"b\\c')", "\"a\\\"b\\\\c\"")]
    [TestCase("toJSON(fromJSON('[]'))", "[]")]
    [TestCase("toJSON(fromJSON('{}'))", "{}")]
    [TestCase("toJSON(ctx.numbers)", "[\n  1,\n  2,\n  3\n]")]
    [TestCase("toJSON(fromJSON('{\"a\":{\"b\":[true,null],\"c\":{}}}'))", "{\n  \"a\": {\n    \"b\": [\n      true,\n      null\n    ],\n    \"c\": {}\n  }\n}")]
    public void ToJson_Value_IsPrettyPrintedWithTwoSpaces(string expression, string expected)
    {
        var result = EvaluateString(expression);

        Assert.That(result, Is.EqualTo(expected));
    }

    [TestCase("0")]
    [TestCase("-12.75")]
    [TestCase("123456789")]
    [TestCase("true")]
    [TestCase("null")]
    [TestCase("\"text with \\\"quotes\\\" and \\u00e9\"")]
    [TestCase("[1, \"two\", [3, [4]], { \"five\": 5 }]")]
    [TestCase("{ \"name\": \"Mona\", \"nested\": { \"list\": [true, false, null], \"n\": 1.5 } }")]
    public void FromJsonToJson_RoundTrip_KeepsTheValue(string json)
    {
        var once = EvaluateString($"toJSON(fromJSON('{json}'))");

        var twice = EvaluateString($"toJSON(fromJSON(toJSON(fromJSON('{json}'))))");

        Assert.Multiple(() =>
        {
            Assert.That(System.Text.Json.Nodes.JsonNode.DeepEquals(System.Text.Json.Nodes.JsonNode.Parse(once), System.Text.Json.Nodes.JsonNode.Parse(json)), Is.True, once);
            Assert.That(twice, Is.EqualTo(once));
        });
    }

    [TestCase("fromJSON('{\"Key\": 1}').key", "1")]
    [TestCase("fromJSON('[10, 20]')[1]", "20")]
    [TestCase("fromJSON('\"abc\"')", "\"abc\"")]
    [TestCase("fromJSON('1.5e3')", "1500")]
    [TestCase("fromJSON(' true ') == true", "true")]
    [TestCase("fromJSON('{\"a\":1,\"a\":2}').a", "2")]
    [TestCase("fromJSON(matrix.node) == 20", "true")]
    public void FromJson_ValidJson_ReturnsTheValue(string expression, string expectedJson)
    {
        var result = EvaluateJson(expression);

        Assert.That(result, Is.EqualTo(expectedJson));
    }

    [TestCase("fromJSON('{')")]
    [TestCase("fromJSON('')")]
    [TestCase("fromJSON('[1,')")]
    [TestCase("fromJSON('nope')")]
    public void FromJson_InvalidJson_FailsAtTheCall(string expression)
    {
        var error = EvaluationError(expression);

        Assert.Multiple(() =>
        {
            Assert.That(error.Message, Does.StartWith("fromJSON: the input is not valid JSON"));
            Assert.That(error.Offset, Is.Zero);
            Assert.That(error.Length, Is.EqualTo(expression.Length));
        });
    }

    [TestCase("success()", true, false, false, true)]
    [TestCase("success()", false, true, false, false)]
    [TestCase("failure()", false, true, false, true)]
    [TestCase("cancelled()", false, false, true, true)]
    [TestCase("cancelled()", true, false, false, false)]
    [TestCase("always()", false, true, true, true)]
    public void StatusFunction_StatusProvider_GivesTheValue(string expression, bool success, bool failure, bool cancelled, bool expected)
    {
        var context = Context(status: new ExpressionStatus(success, failure, cancelled));

        var result = Expression.Parse(expression, Options).EvaluateCondition(context);

        Assert.That(result, Is.EqualTo(expected));
    }

    [Test]
    public void StatusFunction_NoStatusProvider_FailsButAlwaysWorks()
    {
        var error = EvaluationError("always() && success()");

        Assert.Multiple(() =>
        {
            Assert.That(error.Message, Does.Contain("success()"));
            Assert.That(error.Offset, Is.EqualTo(12));
        });
    }
}
