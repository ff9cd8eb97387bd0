using BuildServer.Modules.Runs;
using BuildServer.Modules.Runs.Ui;

namespace BuildServer.Tests.Ui;

/// <summary>The run page's DAG picture, laid out and written as markup on the server.</summary>
public sealed class DagLayoutTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
    private static long _ids;

    private static JobView Job(string key, string name, Status status = Status.Succeeded, params string[] needs) =>
        new(++_ids, 1, key, name, status, null, needs, [], Now.AddSeconds(-42), Now, []);

    [Test]
    public void Lay_PutsEachWorkflowJobInTheColumnOfItsDeepestNeed_AndAMatrixInOneGroup()
    {
        var picture = DagLayout.Lay(
        [
            Job("lint", "lint"),
            Job("build", "build (a)"), Job("build", "build (b)"),
            Job("test", "test", Status.Succeeded, "lint"),
            Job("deploy", "deploy", Status.Pending, "test", "build"),
        ]);

        var boxes = picture.Boxes.ToDictionary(b => b.Key);
        Assert.That(boxes.ToDictionary(b => b.Key, b => b.Value.Column), Is.EqualTo(new Dictionary<string, int>
        {
            ["lint"] = 0, ["build"] = 0, ["test"] = 1, ["deploy"] = 2,
        }));
        Assert.That((boxes["build"].IsGroup, boxes["build"].Jobs.Count, boxes["lint"].IsGroup), Is.EqualTo((true, 2, false)));
        Assert.That(boxes["build"].Height, Is.EqualTo(DagLayout.GroupTitle + 2 * DagLayout.LegHeight + DagLayout.GroupPadding));
        Assert.That(boxes["build"].Y, Is.EqualTo(DagLayout.NodeHeight + DagLayout.BoxGap), "stacked below lint, in the workflow's order");
        Assert.That(picture.Edges.Select(e => $"{e.From}>{e.To}"), Is.EquivalentTo(new[] { "lint>test", "test>deploy", "build>deploy" }));
        Assert.That(picture.Width, Is.EqualTo(3 * DagLayout.BoxWidth + 2 * DagLayout.ColumnGap));
        Assert.That(picture.Edges.Single(e => e.To == "test").Path,
            Is.EqualTo($"M{DagLayout.BoxWidth},20 C{DagLayout.BoxWidth + 28},20 {DagLayout.BoxWidth + 28},20 {DagLayout.BoxWidth + DagLayout.ColumnGap},20"));
    }

    [Test]
    public void Lay_OrdersAColumnByWhereTheJobsItNeedsAre_SoThatEdgesCrossLess()
    {
        var picture = DagLayout.Lay(
        [
            Job("a", "a"), Job("b", "b"),
            Job("after-b", "after-b", Status.Pending, "b"), Job("after-a", "after-a", Status.Pending, "a"),
        ]);

        var column = picture.Boxes.Where(b => b.Column == 1).OrderBy(b => b.Y).Select(b => b.Key);
        Assert.That(column, Is.EqualTo(new[] { "after-a", "after-b" }));
    }

    [Test]
    public void Lay_ANeedThatIsNotInTheRun_OrACycle_DoesNotBreakThePicture()
    {
        var picture = DagLayout.Lay([Job("x", "x", Status.Pending, "y", "missing"), Job("y", "y", Status.Pending, "x")]);

        Assert.That(picture.Boxes.Select(b => b.Key), Is.EquivalentTo(new[] { "x", "y" }));
    }

    [Test]
    public void Box_EncodesWhatTheRunNamed_AndShowsALegByItsMatrixValues()
    {
        var picture = DagLayout.Lay([Job("build", "build (<script>alert(1)</script>, 2)", Status.Failed), Job("build", "build (linux, 1)")]);

        var html = DagMarkup.Box(picture.Boxes[0], Now);

        Assert.That(html, Does.Not.Contain("<script>"));
        Assert.That(html, Does.Contain("&lt;script&gt;alert(1)&lt;/script&gt;, 2</span>"));
        Assert.That(html, Does.Contain(">linux, 1</span>"));
        Assert.That(html, Does.Contain("data-status=\"failed\"").And.Contain("aria-label=\"failed\"").And.Contain(">42 s</span>"));
        Assert.That(html, Does.Contain("2 jobs · 1 failed"));
    }
}
