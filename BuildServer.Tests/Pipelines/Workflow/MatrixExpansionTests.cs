using System.Text.Json.Nodes;
using BuildServer.Modules.Pipelines.Planning;

namespace BuildServer.Tests.Pipelines.Workflow;

/// <summary>GitHub's documented examples of matrix expansion ("Expanding or adding matrix configurations",
/// "Excluding matrix configurations").</summary>
public sealed class MatrixExpansionTests
{
    [Test]
    public void Expand_TwoKeys_IsTheCartesianProductWithTheLastKeyVaryingFastest()
    {
        var result = Expand("""{ "version": [10, 12, 14], "os": ["ubuntu-latest", "windows-latest"] }""");

        Assert.That(result, Is.EqualTo(new[]
        {
            """{"version":10,"os":"ubuntu-latest"}""", """{"version":10,"os":"windows-latest"}""",
            """{"version":12,"os":"ubuntu-latest"}""", """{"version":12,"os":"windows-latest"}""",
            """{"version":14,"os":"ubuntu-latest"}""", """{"version":14,"os":"windows-latest"}""",
        }));
    }

    [Test]
    public void Expand_IncludeExample_MergesWhereNoOriginalValueChangesAndAddsTheRest()
    {
        var result = Expand("""
            {
              "fruit": ["apple", "pear"],
              "animal": ["cat", "dog"],
              "include": [
                { "color": "green" },
                { "color": "pink", "animal": "cat" },
                { "fruit": "apple", "shape": "circle" },
                { "fruit": "banana" },
                { "fruit": "banana", "animal": "cat" }
              ]
            }
            """);

        Assert.That(result, Is.EqualTo(new[]
        {
            """{"fruit":"apple","animal":"cat","color":"pink","shape":"circle"}""",
            """{"fruit":"apple","animal":"dog","color":"green","shape":"circle"}""",
            """{"fruit":"pear","animal":"cat","color":"pink"}""",
            """{"fruit":"pear","animal":"dog","color":"green"}""",
            """{"fruit":"banana"}""",
            """{"fruit":"banana","animal":"cat"}""",
        }));
    }

    [Test]
    public void Expand_IncludeWithOnlyNewKeys_IsAddedToEveryCombination()
    {
        var result = Expand("""{ "os": ["windows-latest", "ubuntu-latest"], "node": [14, 16], "include": [{ "os": "windows-latest", "node": 16, "npm": 6 }] }""");

        Assert.That(result, Is.EqualTo(new[]
        {
            """{"os":"windows-latest","node":14}""", """{"os":"windows-latest","node":16,"npm":6}""",
            """{"os":"ubuntu-latest","node":14}""", """{"os":"ubuntu-latest","node":16}""",
        }));
    }

    [Test]
    public void Expand_OnlyInclude_EachEntryIsACombination()
    {
        var result = Expand("""{ "include": [{ "site": "production", "datacenter": "site-a" }, { "site": "staging", "datacenter": "site-b" }] }""");

        Assert.That(result, Is.EqualTo(new[] { """{"site":"production","datacenter":"site-a"}""", """{"site":"staging","datacenter":"site-b"}""" }));
    }

    [Test]
    public void Expand_ExcludeExample_RemovesPartialMatches()
    {
        var result = Expand("""
            {
              "os": ["macos-latest", "windows-latest"],
              "version": [12, 14, 16],
              "environment": ["staging", "production"],
              "exclude": [
                { "os": "macos-latest", "version": 12, "environment": "production" },
                { "os": "windows-latest", "version": 16 }
              ]
            }
            """);

        Assert.Multiple(() =>
        {
            Assert.That(result, Has.Count.EqualTo(9));
            Assert.That(result, Does.Not.Contain("""{"os":"macos-latest","version":12,"environment":"production"}"""));
            Assert.That(result.Where(r => r.Contains("\"windows-latest\",\"version\":16", StringComparison.Ordinal)), Is.Empty);
        });
    }

    [Test]
    public void Expand_ExcludeThenInclude_IncludeCanBringBackAnExcludedCombination()
    {
        var result = Expand("""{ "os": ["a", "b"], "exclude": [{ "os": "b" }], "include": [{ "os": "b", "extra": true }] }""");

        Assert.That(result, Is.EqualTo(new[] { """{"os":"a"}""", """{"os":"b","extra":true}""" }));
    }

    [Test]
    public void Expand_ObjectValues_AreComparedAsJson()
    {
        var result = Expand("""{ "cfg": [{ "a": 1 }, { "a": 2 }], "exclude": [{ "cfg": { "a": 2 } }] }""");

        Assert.That(result, Is.EqualTo(new[] { """{"cfg":{"a":1}}""" }));
    }

    [Test]
    public void Expand_IncludeOverwritesAddedValuesButNotOriginalOnes()
    {
        var result = Expand("""{ "os": ["x"], "include": [{ "color": "red" }, { "color": "blue" }, { "os": "y", "color": "green" }] }""");

        Assert.That(result, Is.EqualTo(new[] { """{"os":"x","color":"blue"}""", """{"os":"y","color":"green"}""" }));
    }

    [Test]
    public void Expand_EverythingExcluded_IsAnError()
    {
        var result = MatrixExpansion.Expand(Matrix("""{ "os": ["a"], "exclude": [{ "os": "a" }] }"""));

        Assert.That(result.Error, Is.EqualTo("the matrix has no combinations"));
    }

    [Test]
    public void Expand_MoreThanTheLimit_NamesTheCount()
    {
        var result = MatrixExpansion.Expand(Matrix("""{ "a": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17], "b": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16] }"""));

        Assert.That(result.Error, Is.EqualTo("the matrix expands to 272 combinations, more than the limit of 256"));
    }

    [Test]
    public void Expand_AHugeProduct_FailsWithoutBuildingIt()
    {
        var values = "[" + string.Join(",", Enumerable.Range(0, 100)) + "]";
        var result = MatrixExpansion.Expand(Matrix($$"""{ "a": {{values}}, "b": {{values}}, "c": {{values}}, "d": {{values}}, "e": {{values}} }"""));

        Assert.That(result.Error, Is.EqualTo("the matrix expands to 10000000000 combinations, more than the limit of 256"));
    }

    [Test]
    public void Expand_ExactlyTheLimit_IsAllowed()
    {
        var result = MatrixExpansion.Expand(Matrix("""{ "a": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16], "b": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16] }"""));

        Assert.That((result.Error, result.Combinations.Count), Is.EqualTo(((string?)null, 256)));
    }

    [Test]
    public void Expand_ALargeProductExcludedBelowTheLimit_IsAllowed()
    {
        var values = "[" + string.Join(",", Enumerable.Range(0, 20)) + "]";
        var excludes = string.Join(",", Enumerable.Range(0, 10).Select(i => $$"""{ "a": {{i}} }"""));

        var result = MatrixExpansion.Expand(Matrix($$"""{ "a": {{values}}, "b": {{values}}, "exclude": [{{excludes}}] }"""));

        Assert.That((result.Error, result.Combinations.Count), Is.EqualTo(((string?)null, 200)));
    }

    [Test]
    public void Expand_HugeExcludeList_IsRefusedInsteadOfBeingSlow()
    {
        var values = "[" + string.Join(",", Enumerable.Range(0, 64)) + "]";
        var excludes = string.Join(",", Enumerable.Range(0, 1000).Select(i => $$"""{ "a": {{i}}, "b": 1 }"""));

        var result = MatrixExpansion.Expand(Matrix($$"""{ "a": {{values}}, "b": {{values}}, "exclude": [{{excludes}}] }"""));

        Assert.That(result.Error, Is.EqualTo("the matrix's include and exclude lists (1000 entries) are too long for 4096 combinations"));
    }

    [Test]
    public void Expand_KeyNotAList_IsAnError()
    {
        var result = MatrixExpansion.Expand(Matrix("""{ "os": "linux" }"""));

        Assert.That(result.Error, Is.EqualTo("the matrix key 'os' must be a list of values"));
    }

    private static JsonObject Matrix(string json) => JsonNode.Parse(json)!.AsObject();

    private static List<string> Expand(string json)
    {
        var result = MatrixExpansion.Expand(Matrix(json));
        Assert.That(result.Error, Is.Null);
        return result.Combinations.Select(c => c.ToJsonString()).ToList();
    }
}
