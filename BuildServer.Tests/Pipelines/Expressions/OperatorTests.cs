using static BuildServer.Tests.Pipelines.Expressions.ExpressionHarness;

namespace BuildServer.Tests.Pipelines.Expressions;

public sealed class OperatorTests
{
    [TestCase("null", "null")]
    [TestCase("true", "true")]
    [TestCase("false", "false")]
    [TestCase("711", "711")]
    [TestCase("-9.2", "-9.2")]
    [TestCase("+1", "1")]
    [TestCase("0xff", "255")]
    [TestCase("-2.99e-2", "-0.0299")]
    [TestCase("'It''s open source!'", "\"It\\u0027s open source!\"")]
    [TestCase("''", "\"\"")]
    public void Evaluate_Literal_ReturnsItsValue(string expression, string expectedJson)
    {
        var result = EvaluateJson(expression);

        Assert.That(result, Is.EqualTo(expectedJson));
    }

    [TestCase("1 && 'x'", "\"x\"")]
    [TestCase("0 && 'x'", "0")]
    [TestCase("'a' && '' && 'b'", "\"\"")]
    [TestCase("null || 'default'", "\"default\"")]
    [TestCase("'a' || 'b'", "\"a\"")]
    [TestCase("'' || 0", "0")]
    [TestCase("ctx.missing || ctx.array[1]", "\"b\"")]
    public void Evaluate_AndOr_ReturnOperandValues(string expression, string expectedJson)
    {
        var result = EvaluateJson(expression);

        Assert.That(result, Is.EqualTo(expectedJson));
    }

    [TestCase("false && fromJSON('{')")]
    [TestCase("true || fromJSON('{')")]
    [TestCase("ctx.zero && format('{1}')")]
    [TestCase("ctx.text || format('{1}') || fromJSON('')")]
    public void Evaluate_ShortCircuit_DoesNotEvaluateTheRest(string expression)
    {
        Assert.That(() => Evaluate(expression), Throws.Nothing);
    }

    [Test]
    public void Evaluate_RightSideNeeded_IsEvaluated()
    {
        var error = EvaluationError("true && fromJSON('{')");

        Assert.That(error.Message, Does.StartWith("fromJSON"));
    }

    [TestCase("!true == false", true)]
    [TestCase("!(true == false)", true)]
    [TestCase("!!ctx.text", true)]
    [TestCase("1 < 2 == true", true)]
    [TestCase("true || false && false", true)]
    [TestCase("(true || false) && false", false)]
    [TestCase("false && false || true", true)]
    [TestCase("1 == 1 && 2 != 3", true)]
    [TestCase("!ctx.object.name", false)]
    public void Evaluate_Operators_FollowGitHubPrecedence(string expression, bool expected)
    {
        var result = IsTruthy(expression);

        Assert.That(result, Is.EqualTo(expected));
    }

    [TestCase("ctx.object.name", "\"Mona\"")]
    [TestCase("ctx.object['name']", "\"Mona\"")]
    [TestCase("ctx.object['NAME']", "\"Mona\"")]
    [TestCase("CTX.Object.Name", "\"Mona\"")]
    [TestCase("env.name", "\"value\"")]
    [TestCase("ctx.array[0]", "\"a\"")]
    [TestCase("ctx.array[1.9]", "\"b\"")]
    [TestCase("ctx.array['2']", "\"c\"")]
    [TestCase("ctx.array[true]", "\"b\"")]
    [TestCase("ctx.numbers[ctx.numbers[0]]", "2")]
    [TestCase("ctx.numbered[1]", "\"one\"")]
    [TestCase("fromJSON('[[1,2],[3]]')[0][1]", "2")]
    [TestCase("(ctx.object).count", "3")]
    public void Evaluate_PropertyAndIndex_ReadTheValue(string expression, string expectedJson)
    {
        var result = EvaluateJson(expression);

        Assert.That(result, Is.EqualTo(expectedJson));
    }

    [TestCase("ctx.array[3]")]
    [TestCase("ctx.array[-1]")]
    [TestCase("ctx.array['x']")]
    [TestCase("ctx.array[ctx.object]")]
    [TestCase("ctx.object.missing")]
    [TestCase("ctx.object.missing.deeper[0]")]
    [TestCase("ctx.text[0]")]
    [TestCase("ctx.text.length")]
    [TestCase("matrix.unknown")]
    public void Evaluate_MissingOrOutOfRange_IsNull(string expression)
    {
        var result = Evaluate(expression);

        Assert.That(result, Is.Null);
    }

    private const string Issues = """
        {
          "github": { "event": { "issues": [
            { "title": "one", "labels": [ { "name": "bug" }, { "name": "docs" } ] },
            { "title": "two", "labels": [] },
            { "title": "three", "labels": [ { "name": "bug" }, { "other": 1 } ] },
            { "title": "four" }
          ] } },
          "ctx": { "grid": [[1, 2], [3], "x"], "object": { "a": { "v": 1 }, "b": { "v": 2 } } }
        }
        """;

    [TestCase("github.event.issues.*.labels.*.name", "[\"bug\",\"docs\",\"bug\"]")]
    [TestCase("github.event.issues.*.title", "[\"one\",\"two\",\"three\",\"four\"]")]
    [TestCase("github.event.issues[*].labels[*]['name']", "[\"bug\",\"docs\",\"bug\"]")]
    [TestCase("ctx.grid.*.*", "[1,2,3]")]
    [TestCase("ctx.grid.*[0]", "[1,3]")]
    [TestCase("ctx.object.*.v", "[1,2]")]
    [TestCase("ctx.missing.*", "[]")]
    [TestCase("ctx.missing.*.name", "[]")]
    public void Evaluate_ObjectFilter_CollectsAnArray(string expression, string expectedJson)
    {
        var result = EvaluateJson(expression, Issues);

        Assert.That(result, Is.EqualTo(expectedJson));
    }

    [TestCase("contains(github.event.issues.*.labels.*.name, 'DOCS')", "true")]
    [TestCase("join(github.event.issues.*.labels.*.name, ', ')", "\"bug, docs, bug\"")]
    [TestCase("toJSON(ctx.object.*.v)", "\"[\\n  1,\\n  2\\n]\"")]
    public void Evaluate_ObjectFilterResult_WorksAsAnArray(string expression, string expectedJson)
    {
        var result = EvaluateJson(expression, Issues);

        Assert.That(result, Is.EqualTo(expectedJson));
    }
}
