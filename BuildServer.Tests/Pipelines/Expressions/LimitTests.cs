using System.Text.Json.Nodes;
using BuildServer.Modules.Pipelines.Expressions;
using static BuildServer.Tests.Pipelines.Expressions.ExpressionHarness;

namespace BuildServer.Tests.Pipelines.Expressions;

public sealed class LimitTests
{
    [Test]
    public void Parse_FiftyNestedGroups_IsAccepted()
    {
        var expression = new string('(', 50) + "1" + new string(')', 50);

        Assert.That(EvaluateJson(expression), Is.EqualTo("1"));
    }

    [Test]
    public void Parse_FiftyOneNestedGroups_FailsAtTheLastOpening()
    {
        var expression = new string('(', 51) + "1" + new string(')', 51);

        var error = ParseError(expression);

        Assert.Multiple(() =>
        {
            Assert.That(error.Message, Does.Contain("nests deeper than 50"));
            Assert.That(error.Offset, Is.EqualTo(50));
        });
    }

    [TestCase(49, false)]
    [TestCase(50, true)]
    public void Parse_NotChain_IsCappedByTreeDepth(int bangs, bool fails)
    {
        var expression = new string('!', bangs) + "true";

        var ok = Expression.TryParse(expression, Options, out _, out var error);

        Assert.That(ok, Is.Not.EqualTo(fails), error?.Message);
    }

    [Test]
    public void Parse_LongPropertyChain_FailsWithDepthError()
    {
        var expression = "ctx" + string.Concat(Enumerable.Repeat(".a", 60));

        var error = ParseError(expression);

        Assert.That(error.Message, Does.Contain("nests deeper than 50"));
    }

    [Test]
    public void Parse_LongAndChain_IsFlattenedAndAccepted()
    {
        var expression = string.Join(" && ", Enumerable.Repeat("true", 500));

        Assert.That(IsTruthy(expression), Is.True);
    }

    [TestCase(20_000)]
    [TestCase(200_000)]
    public void Parse_PathologicalNesting_FailsWithoutOverflowingTheStack(int length)
    {
        var brackets = "ctx" + string.Concat(Enumerable.Repeat("[ctx", length / 4));
        var groups = new string('(', length);
        var calls = string.Concat(Enumerable.Repeat("toJSON(", length / 7));

        Assert.Multiple(() =>
        {
            Assert.That(ParseError(brackets).Message, Does.Contain("limit").Or.Contain("nests deeper"));
            Assert.That(ParseError(groups).Message, Does.Contain("limit").Or.Contain("nests deeper"));
            Assert.That(ParseError(calls).Message, Does.Contain("limit").Or.Contain("nests deeper"));
        });
    }

    [Test]
    public void Parse_TooLong_Fails()
    {
        var expression = "'" + new string('a', 21_000) + "'";

        var error = ParseError(expression);

        Assert.That(error.Message, Does.Contain("limit is 21000"));
    }

    [Test]
    public void FromJson_TooDeep_Fails()
    {
        var json = new string('[', 65) + new string(']', 65);

        var error = EvaluationError($"fromJSON('{json}')");

        Assert.That(error.Message, Does.StartWith("fromJSON"));
    }

    [Test]
    public void ToJson_ContextNestedTooDeep_Fails()
    {
        JsonNode deep = new JsonArray();
        for (var i = 0; i < 100; i++) deep = new JsonArray(deep);
        var context = new EvaluationContext(new Dictionary<string, JsonNode?> { ["ctx"] = deep });

        var error = Assert.Throws<ExpressionException>(() => Expression.Parse("toJSON(ctx)", Options).Evaluate(context))!.Error;

        Assert.That(error.Message, Does.Contain("nests deeper than 64"));
    }

    [Test]
    public void ObjectFilter_TooManyItems_Fails()
    {
        var big = new JsonArray();
        for (var i = 0; i < 100_001; i++) big.Add(i);
        var context = new EvaluationContext(new Dictionary<string, JsonNode?> { ["ctx"] = big });

        var error = Assert.Throws<ExpressionException>(() => Expression.Parse("ctx.*", Options).Evaluate(context))!.Error;

        Assert.That(error.Message, Does.Contain("more than 100000 items"));
    }

    [Test]
    public void Format_HugeResult_Fails()
    {
        var contexts = $$"""{ "ctx": { "big": "{{new string('x', 600_000)}}" } }""";

        var error = EvaluationError("format('{0}{0}', ctx.big)", contexts);

        Assert.That(error.Message, Does.Contain("longer than"));
    }
}
