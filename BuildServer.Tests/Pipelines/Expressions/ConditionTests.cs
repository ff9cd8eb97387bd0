using BuildServer.Modules.Pipelines.Expressions;
using static BuildServer.Tests.Pipelines.Expressions.ExpressionHarness;

namespace BuildServer.Tests.Pipelines.Expressions;

public sealed class ConditionTests
{
    private static readonly ExpressionStatus Failed = new(false, true, false);
    private static readonly ExpressionStatus Cancelled = new(false, false, true);

    private static bool Evaluate(string condition, IExpressionStatus status) =>
        Expression.ParseCondition(condition, Options).EvaluateCondition(Context(status: status));

    [TestCase("github.ref == 'refs/heads/main'")]
    [TestCase("${{ github.ref == 'refs/heads/main' }}")]
    [TestCase("true")]
    public void ParseCondition_NoStatusFunction_IsWrappedInSuccess(string condition)
    {
        var results = (Evaluate(condition, ExpressionStatus.Succeeded), Evaluate(condition, Failed), Evaluate(condition, Cancelled));

        Assert.That(results, Is.EqualTo((true, false, false)));
    }

    [TestCase("failure()", false, true, false)]
    [TestCase("${{ always() }}", true, true, true)]
    [TestCase("always() && github.ref == 'refs/heads/main'", true, true, true)]
    [TestCase("!cancelled()", true, true, false)]
    [TestCase("cancelled() || failure()", false, true, true)]
    [TestCase("contains(format('{0}', success()), 'a') || true", true, true, true)]
    [TestCase("SUCCESS() || github.event_name == 'push'", true, true, true)]
    public void ParseCondition_StatusFunction_IsNotWrapped(string condition, bool whenSucceeded, bool whenFailed, bool whenCancelled)
    {
        var results = (Evaluate(condition, ExpressionStatus.Succeeded), Evaluate(condition, Failed), Evaluate(condition, Cancelled));

        Assert.That(results, Is.EqualTo((whenSucceeded, whenFailed, whenCancelled)));
    }

    [TestCase("")]
    [TestCase("   ")]
    public void ParseCondition_Empty_MeansSuccess(string condition)
    {
        var results = (Evaluate(condition, ExpressionStatus.Succeeded), Evaluate(condition, Failed));

        Assert.That(results, Is.EqualTo((true, false)));
    }

    [TestCase("github.ref == 'refs/heads/other'", false)]
    [TestCase("${{ false }}", false)]
    [TestCase("${{ 0 }}", false)]
    [TestCase("${{ false }} ", true)]
    [TestCase("${{ false }} && false", true)]
    [TestCase("${{ '' }}${{ null }}", false)]
    [TestCase("matrix.node", true)]
    public void ParseCondition_Value_UsesTruthiness(string condition, bool expected)
    {
        var result = Evaluate(condition, ExpressionStatus.Succeeded);

        Assert.That(result, Is.EqualTo(expected));
    }

    [Test]
    public void ParseCondition_InterpolatedTextWithStatusFunction_IsNotWrapped()
    {
        var result = Evaluate("x ${{ failure() }}", Failed);

        Assert.That(result, Is.True);
    }

    [TestCase("github.ref ==", 13)]
    [TestCase("x ${{ github.ref == }}", 20)]
    [TestCase("nope()", 0)]
    public void TryParseCondition_Invalid_ReportsTheOffsetInTheCondition(string condition, int offset)
    {
        var ok = Expression.TryParseCondition(condition, Options, out _, out var error);

        Assert.Multiple(() =>
        {
            Assert.That(ok, Is.False);
            Assert.That(error!.Offset, Is.EqualTo(offset));
        });
    }

    [Test]
    public void ParseCondition_StatusFunctionsNotAllowed_StillWrapsInSuccess()
    {
        var options = new ExpressionParseOptions(["github"]);
        var condition = Expression.ParseCondition("github.ref != ''", options);

        var results = (condition.EvaluateCondition(Context(status: ExpressionStatus.Succeeded)), condition.EvaluateCondition(Context(status: Failed)));

        Assert.That(results, Is.EqualTo((true, false)));
    }
}
