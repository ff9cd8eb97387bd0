using BuildServer.Modules.Pipelines.Expressions;
using static BuildServer.Tests.Pipelines.Expressions.ExpressionHarness;

namespace BuildServer.Tests.Pipelines.Expressions;

public sealed class CoercionTests
{
    // GitHub's table of conversions to a number, row by row.
    [TestCase("null == 0", true)]
    [TestCase("true == 1", true)]
    [TestCase("false == 0", true)]
    [TestCase("'' == 0", true)]
    [TestCase("' 42 ' == 42", true)]
    [TestCase("'-1.5e1' == -15", true)]
    [TestCase("'0x1F' == 31", true)]
    [TestCase("'0o10' == 8", true)]
    [TestCase("'abc' == 0", false)]
    [TestCase("ctx.array == 0", false)]
    [TestCase("ctx.object == 0", false)]
    public void Equal_NumberAgainstEachKind_CoercesAsGitHubTable(string expression, bool expected)
    {
        var result = IsTruthy(expression);

        Assert.That(result, Is.EqualTo(expected));
    }

    [TestCase("", 0d)]
    [TestCase("   ", 0d)]
    [TestCase("12", 12d)]
    [TestCase("+3.5", 3.5d)]
    [TestCase(".5", 0.5d)]
    [TestCase("2.99e-2", 0.0299d)]
    [TestCase("0xff", 255d)]
    [TestCase("0xffffffff", -1d)]
    [TestCase("Infinity", double.PositiveInfinity)]
    [TestCase("-Infinity", double.NegativeInfinity)]
    public void ParseNumber_NumericText_ReturnsTheNumber(string text, double expected)
    {
        var result = Coercion.ParseNumber(text);

        Assert.That(result, Is.EqualTo(expected));
    }

    [TestCase("abc")]
    [TestCase("1.2.3")]
    [TestCase("0x")]
    [TestCase("0xfg")]
    [TestCase("1,000")]
    public void ParseNumber_NonNumericText_ReturnsNaN(string text)
    {
        var result = Coercion.ParseNumber(text);

        Assert.That(result, Is.NaN);
    }

    [TestCase("null == null", true)]
    [TestCase("null == false", true)]
    [TestCase("null == ''", true)]
    [TestCase("'1' == true", true)]
    [TestCase("'true' == true", false)]
    [TestCase("1 == '1'", true)]
    [TestCase("1 == '1.0'", true)]
    [TestCase("'abc' == 'ABC'", true)]
    [TestCase("'abc' != 'ABD'", true)]
    [TestCase("NaN == NaN", false)]
    [TestCase("NaN != NaN", true)]
    [TestCase("ctx.array == ctx.array", true)]
    [TestCase("ctx.object == ctx.other", false)]
    [TestCase("fromJSON('[]') == fromJSON('[]')", false)]
    [TestCase("ctx.array == null", false)]
    [TestCase("ctx.object == 'Object'", false)]
    public void Equal_BetweenKinds_FollowsLooseEquality(string expression, bool expected)
    {
        var result = IsTruthy(expression);

        Assert.That(result, Is.EqualTo(expected));
    }

    [TestCase("'a' < 'B'", true)]
    [TestCase("'B' > 'a'", true)]
    [TestCase("'abc' <= 'ABC'", true)]
    [TestCase("1 < '2'", true)]
    [TestCase("null < 1", true)]
    [TestCase("false < true", true)]
    [TestCase("'abc' > 1", false)]
    [TestCase("'abc' < 1", false)]
    [TestCase("ctx.array < 1", false)]
    [TestCase("ctx.array >= ctx.array", true)]
    [TestCase("null >= null", true)]
    [TestCase("null > null", false)]
    [TestCase("3 < 2 < 1", true)]
    [TestCase("2 >= 2", true)]
    public void Compare_BetweenKinds_CoercesOrLeavesUnordered(string expression, bool expected)
    {
        var result = IsTruthy(expression);

        Assert.That(result, Is.EqualTo(expected));
    }

    [TestCase("false")]
    [TestCase("0")]
    [TestCase("-0")]
    [TestCase("''")]
    [TestCase("null")]
    [TestCase("NaN")]
    [TestCase("ctx.missing")]
    public void EvaluateCondition_FalsyValue_IsFalse(string expression)
    {
        var result = IsTruthy(expression);

        Assert.That(result, Is.False);
    }

    [TestCase("true")]
    [TestCase("1")]
    [TestCase("-1")]
    [TestCase("'0'")]
    [TestCase("'false'")]
    [TestCase("' '")]
    [TestCase("fromJSON('[]')")]
    [TestCase("fromJSON('{}')")]
    public void EvaluateCondition_TruthyValue_IsTrue(string expression)
    {
        var result = IsTruthy(expression);

        Assert.That(result, Is.True);
    }

    [TestCase("1", "1")]
    [TestCase("1.0", "1")]
    [TestCase("-2.0", "-2")]
    [TestCase(".5", "0.5")]
    [TestCase("-0", "0")]
    [TestCase("1.2e2", "120")]
    [TestCase("1.2E-2", "0.012")]
    [TestCase("0xff", "255")]
    [TestCase("123456.789", "123456.789")]
    [TestCase("0.84551240822557006", "0.84551240822557")]
    [TestCase("Infinity", "Infinity")]
    [TestCase("-Infinity", "-Infinity")]
    [TestCase("NaN", "NaN")]
    public void Format_Number_PrintsAsGitHub(string number, string expected)
    {
        var result = EvaluateString($"format('{{0}}', {number})");

        Assert.That(result, Is.EqualTo(expected));
    }
}
