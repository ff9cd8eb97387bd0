using BuildServer.Modules.Runs.Logs;
using BuildServer.Modules.Runs.Ui.Log;

namespace BuildServer.Tests.Runs;

public sealed class LogOutlineTests
{
    private static readonly Dictionary<int, bool> NoSteps = [];
    private static readonly Dictionary<long, bool> NoGroups = [];

    private static GroupMarker Start(long line) => new(line, GroupMarkerKind.Start);

    private static GroupMarker End(long line) => new(line, GroupMarkerKind.End);

    /// <summary>Each row as text: "step 1", "7" for line 7, "7 [+]" / "7 [-]" for a folded / open group's header.</summary>
    private static string[] Rows(LogOutline outline) =>
        Enumerable.Range(0, (int)outline.RowCount).Select(r => outline.RowAt(r)).Select(row => row.Kind == RowKind.Step
            ? $"step {row.Value}"
            : outline.GroupAt(row.Value) is { } g ? $"{row.Value} {(g.Expanded ? "[-]" : "[+]")}" : $"{row.Value}").ToArray();

    private static LogOutline Build(long lines, OutlineStep[] steps, GroupMarker[] markers, bool finished = true,
        Dictionary<int, bool>? stepOpen = null, Dictionary<long, bool>? groupOpen = null) =>
        LogOutline.Build(lines, steps, markers, finished, stepOpen ?? NoSteps, groupOpen ?? NoGroups);

    [Test]
    public void Build_WithoutStepsOrGroups_IsEveryLine()
    {
        var outline = Build(3, [], []);

        Assert.That(Rows(outline), Is.EqualTo(new[] { "1", "2", "3" }));
    }

    [Test]
    public void Build_Steps_GetAHeaderBeforeTheirLines_LinesOutsideStepsStayWhereTheyAre_PendingStepsComeLast()
    {
        OutlineStep[] steps = [new(0, 2, 4), new(1, 4, 6), new(2, null, null)];

        var outline = Build(7, steps, []);

        Assert.That(Rows(outline), Is.EqualTo(new[] { "1", "step 0", "2", "3", "step 1", "4", "5", "6", "7", "step 2" }));
        Assert.That(outline.RowOfStep(1), Is.EqualTo(4));
        Assert.That(outline.RowOfLine(5), Is.EqualTo(6));
    }

    [Test]
    public void Build_ARunningStep_HoldsTheLinesUpToTheLogsEnd()
    {
        var outline = Build(5, [new(0, 1, 3), new(1, 3, null)], [], finished: false);

        Assert.That(Rows(outline), Is.EqualTo(new[] { "step 0", "1", "2", "step 1", "3", "4", "5" }));
    }

    [Test]
    public void Build_ASkippedStep_IsAHeaderWithoutLines()
    {
        var outline = Build(2, [new(0, 1, 3), new(1, 3, 3)], []);

        Assert.That(Rows(outline), Is.EqualTo(new[] { "step 0", "1", "2", "step 1" }));
    }

    [Test]
    public void Build_AFoldedStep_ShowsOnlyItsHeader_AndItsLinesHaveNoRow()
    {
        var outline = Build(4, [new(0, 1, 3), new(1, 3, 5)], [], stepOpen: new() { [0] = false });

        Assert.That(Rows(outline), Is.EqualTo(new[] { "step 0", "step 1", "3", "4" }));
        Assert.That(outline.RowOfLine(2), Is.Null);
        Assert.That(outline.Container(2), Is.EqualTo(((int?)0, (long?)null)));
    }

    [Test]
    public void Build_AClosedGroup_IsFoldedByDefault_ItsEndMarkerNeverShown()
    {
        var outline = Build(6, [], [Start(2), End(5)]);

        Assert.That(Rows(outline), Is.EqualTo(new[] { "1", "2 [+]", "6" }));
        Assert.That(outline.GroupAt(2), Is.EqualTo(new OutlineGroup(2, 5, Closed: true, Expanded: false)));
        Assert.That(outline.GroupAt(2)!.BodyLines, Is.EqualTo(2));
        Assert.That(outline.Container(4), Is.EqualTo(((int?)null, (long?)2)));
    }

    [Test]
    public void Build_AClosedGroupOpenedByTheUser_ShowsItsBody()
    {
        var outline = Build(6, [], [Start(2), End(5)], groupOpen: new() { [2] = true });

        Assert.That(Rows(outline), Is.EqualTo(new[] { "1", "2 [-]", "3", "4", "6" }));
        Assert.That(outline.RowOfLine(5), Is.Null);
    }

    [Test]
    public void Build_AGroupStillOpen_IsShownOpen_UntilTheAttemptFinishes()
    {
        var running = Build(4, [], [Start(2)], finished: false);
        var finished = Build(4, [], [Start(2)], finished: true);

        Assert.That(Rows(running), Is.EqualTo(new[] { "1", "2 [-]", "3", "4" }));
        Assert.That(Rows(finished), Is.EqualTo(new[] { "1", "2 [+]" }));
    }

    [Test]
    public void Build_ANewGroup_ClosesTheOneBefore_AndAStrayEndMarkerIsHidden()
    {
        var outline = Build(7, [], [End(1), Start(2), Start(4), End(6)]);

        Assert.That(Rows(outline), Is.EqualTo(new[] { "2 [+]", "4 [+]", "7" }));
        Assert.That(outline.GroupAt(2)!.BodyEnd, Is.EqualTo(4));
    }

    [Test]
    public void Build_AGroup_EndsWithItsStep()
    {
        OutlineStep[] steps = [new(0, 1, 4), new(1, 4, null)];

        var outline = Build(6, steps, [Start(2), End(5)], finished: false);

        Assert.That(Rows(outline), Is.EqualTo(new[] { "step 0", "1", "2 [+]", "step 1", "4", "6" }));
        Assert.That(outline.GroupAt(2)!.BodyEnd, Is.EqualTo(4));
    }

    [Test]
    public void RowAt_AndRowOfLine_AgreeAcrossAMillionLines()
    {
        OutlineStep[] steps = [new(0, 1, 500_001), new(1, 500_001, null)];

        var outline = Build(1_000_000, steps, [Start(10), End(20), Start(999_000)], finished: false);

        Assert.That(outline.RowCount, Is.EqualTo(1_000_000 + 2 - 10));
        foreach (var line in new long[] { 1, 9, 10, 21, 500_000, 500_001, 999_000, 999_999, 1_000_000 })
        {
            var row = outline.RowOfLine(line);
            Assert.That(row, Is.Not.Null, $"line {line}");
            Assert.That(outline.RowAt(row!.Value), Is.EqualTo(new OutlineRow(RowKind.Line, line)));
        }
    }
}
