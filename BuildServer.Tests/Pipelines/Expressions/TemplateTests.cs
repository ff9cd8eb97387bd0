using System.Text.Json.Nodes;
using BuildServer.Modules.Pipelines.Expressions;
using static BuildServer.Tests.Pipelines.Expressions.ExpressionHarness;

namespace BuildServer.Tests.Pipelines.Expressions;

public sealed class TemplateTests
{
    private static string Render(string template) => ExpressionTemplate.Parse(template, Options).Evaluate(Context());

    [TestCase("echo ${{ matrix.os }}-${{ github.sha }}", "echo linux-abc123")]
    [TestCase("${{ 'a' }}${{ 'b' }}", "ab")]
    [TestCase("${{ 'a}}b' }} and ${{ 'c' }}", "a}}b and c")]
    [TestCase("${{ format('{{0}}') }}", "{0}")]
    [TestCase("${{ 'it''s' }}", "it's")]
    [TestCase("${{ 'x''}}''y' }}!", "x'}}'y!")]
    [TestCase("[${{ null }}]", "[]")]
    [TestCase("n=${{ 1.50 }} b=${{ true }}", "n=1.5 b=true")]
    [TestCase("${{ matrix.node }}", "20")]
    [TestCase("plain text, } and }} and { ok", "plain text, } and }} and { ok")]
    [TestCase("$ {{ not an expression }}", "$ {{ not an expression }}")]
    [TestCase("", "")]
    public void Evaluate_Template_Interpolates(string template, string expected)
    {
        var result = Render(template);

        Assert.That(result, Is.EqualTo(expected));
    }

    [Test]
    public void Evaluate_ObjectOrArray_IsWrittenAsJson()
    {
        var result = Render("${{ ctx.object }} ${{ ctx.numbers }}");

        Assert.That(result, Is.EqualTo("{\n  \"name\": \"Mona\",\n  \"count\": 3\n} [\n  1,\n  2,\n  3\n]"));
    }

    [TestCase("${{ 1 }}", true, true)]
    [TestCase(" ${{ 1 }}", true, false)]
    [TestCase("${{ 1 }}${{ 2 }}", true, false)]
    [TestCase("no expressions", false, false)]
    public void Parse_Template_ReportsItsShape(string template, bool hasExpressions, bool isSingle)
    {
        var parsed = ExpressionTemplate.Parse(template, Options);

        Assert.Multiple(() =>
        {
            Assert.That(parsed.HasExpressions, Is.EqualTo(hasExpressions));
            Assert.That(parsed.IsSingleExpression, Is.EqualTo(isSingle));
        });
    }

    [TestCase("${{ matrix.node }}", "20")]
    [TestCase("${{ ctx.array }}", "[\"a\",\"b\",\"c\"]")]
    [TestCase("${{ fromJSON('{\"a\":[1]}') }}", "{\"a\":[1]}")]
    [TestCase("${{ null }}", "null")]
    [TestCase("v${{ matrix.node }}", "\"v20\"")]
    public void EvaluateValue_Template_KeepsTheTypeOfASingleExpression(string template, string expectedJson)
    {
        var result = ExpressionTemplate.Parse(template, Options).EvaluateValue(Context());

        Assert.That(result?.ToJsonString() ?? "null", Is.EqualTo(expectedJson));
    }

    [Test]
    public void EvaluateValue_ContextObject_ReturnsADetachedCopy()
    {
        var context = Context();
        var template = ExpressionTemplate.Parse("${{ ctx.object }}", Options);

        var result = template.EvaluateValue(context)!.AsObject();
        result["name"] = "changed";

        Assert.That(template.EvaluateValue(context)!["name"]!.GetValue<string>(), Is.EqualTo("Mona"));
    }

    [TestCase("echo ${{ github.sha", 5, "not closed")]
    [TestCase("${{ 'a}}' ", 0, "not closed")]
    [TestCase("echo ${{ foo(1) }}", 9, "Unrecognized function: 'foo'")]
    [TestCase("a ${{ 1 }} b ${{ secrets.x }}", 17, "Unrecognized named-value: 'secrets'")]
    [TestCase("x ${{ }}", 5, "An expression was expected")]
    [TestCase("${{ 'abc }}'", 0, "not closed")]
    [TestCase("${{ \"abc\" }}", 4, "single quotes")]
    [TestCase("${{ 1 == }}", 9, "Unexpected end of expression")]
    public void Parse_InvalidTemplate_ReportsTheOffsetInTheWholeText(string template, int offset, string message)
    {
        var ok = ExpressionTemplate.TryParse(template, Options, out _, out var error);

        Assert.Multiple(() =>
        {
            Assert.That(ok, Is.False);
            Assert.That(error!.Message, Does.Contain(message));
            Assert.That(error.Offset, Is.EqualTo(offset));
        });
    }

    [Test]
    public void Evaluate_FailingExpression_ReportsTheOffsetInTheWholeText()
    {
        var template = ExpressionTemplate.Parse("run ${{ fromJSON('x') }}", Options);

        var error = Assert.Throws<ExpressionException>(() => template.Evaluate(Context()))!.Error;

        Assert.That(error.Offset, Is.EqualTo(8));
    }

    [Test]
    public void Evaluate_HugeResult_FailsWithALimit()
    {
        var big = new string('x', 600_000);
        var contexts = $$"""{ "ctx": { "big": "{{big}}" } }""";
        var template = ExpressionTemplate.Parse("${{ ctx.big }}${{ ctx.big }}", Options);

        var error = Assert.Throws<ExpressionException>(() => template.Evaluate(Context(contexts)))!.Error;

        Assert.That(error.Message, Does.Contain("longer than"));
    }

    [Test]
    public void ContainsExpression_Text_DetectsTheOpener()
    {
        Assert.Multiple(() =>
        {
            Assert.That(ExpressionTemplate.ContainsExpression("a ${{ b }}"), Is.True);
            Assert.That(ExpressionTemplate.ContainsExpression("a ${ b }"), Is.False);
        });
    }

    [Test]
    public void Evaluate_SameTemplateTwice_UsesTheNewContext()
    {
        var template = ExpressionTemplate.Parse("${{ matrix.os }}", Options);
        var second = new EvaluationContext(new Dictionary<string, JsonNode?> { ["matrix"] = new JsonObject { ["os"] = "windows" } });

        var results = (template.Evaluate(Context()), template.Evaluate(second));

        Assert.That(results, Is.EqualTo(("linux", "windows")));
    }
}
