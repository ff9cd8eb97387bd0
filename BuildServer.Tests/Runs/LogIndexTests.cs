using System.Text;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Runs.Logs;
using BuildServer.Modules.Runs.Ui.Log;

namespace BuildServer.Tests.Runs;

/// <summary>The line index, the whole-log search and the window of lines the log view reads, over a real log file.</summary>
public sealed class LogIndexTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private string _dir = null!;
    private FileLogStore _store = null!;

    [SetUp]
    public void CreateStore()
    {
        _dir = Directory.CreateTempSubdirectory("logindex-").FullName;
        _store = new FileLogStore(new DataDirectory(_dir), new LogGrowth());
    }

    [TearDown]
    public void RemoveStore() => Directory.Delete(_dir, recursive: true);

    private async Task WriteAsync(IEnumerable<string> lines)
    {
        await using var writer = _store.OpenWriter(1, 1);
        foreach (var line in lines) writer.AppendLine(At, line);
    }

    private async Task<long> OffsetOfAsync(long number)
    {
        var all = (await _store.ReadAsync(new LogRange(1, 1), 0, 16 << 20, CancellationToken.None)).Data.ToArray();
        long offset = 0;
        for (var n = 1; n < number; n++) offset = Array.IndexOf(all, (byte)'\n', (int)offset) + 1;
        return offset;
    }

    [Test]
    public async Task Extend_CountsLines_AndFindsGroupMarkers()
    {
        await WriteAsync(["one", "::group::Compile", "cc a.c", "  ::endgroup::", "##[group]Old style", "##[endgroup]", "last"]);
        var index = new LogIndex(_store, 1, 1);

        var snapshot = await index.ExtendAsync(CancellationToken.None);

        Assert.That(snapshot.Lines, Is.EqualTo(7));
        Assert.That(snapshot.Markers.ToArray(), Is.EqualTo(new[]
        {
            new GroupMarker(2, GroupMarkerKind.Start), new GroupMarker(4, GroupMarkerKind.End),
            new GroupMarker(5, GroupMarkerKind.Start), new GroupMarker(6, GroupMarkerKind.End),
        }));
    }

    [Test]
    public async Task Extend_AfterAppends_ScansOnlyTheNewLines_AndAnUnfinishedLineWaits()
    {
        await WriteAsync(Enumerable.Range(1, 1000).Select(i => $"line {i}"));
        var index = new LogIndex(_store, 1, 1);
        var first = await index.ExtendAsync(CancellationToken.None);
        await WriteAsync(Enumerable.Range(1001, 500).Select(i => i == 1200 ? "::group::late" : $"line {i}"));
        var path = Path.Combine(_dir, "logs", "1", "1.log");
        await File.AppendAllTextAsync(path, "2026-11-24T12:00:00.0000000Z half a li");

        var second = await index.ExtendAsync(CancellationToken.None);

        Assert.That(first.Lines, Is.EqualTo(1000));
        Assert.That(second.Lines, Is.EqualTo(1500));
        Assert.That(second.Length, Is.EqualTo(new FileInfo(path).Length - "2026-11-24T12:00:00.0000000Z half a li".Length));
        Assert.That(second.Markers.ToArray(), Is.EqualTo(new[] { new GroupMarker(1200, GroupMarkerKind.Start) }));
        foreach (var line in new long[] { 1, 2, 256, 257, 513, 1000, 1001, 1499, 1500 })
        {
            var offset = await OffsetOfAsync(line);
            Assert.That(await index.OffsetOfLineAsync(line, CancellationToken.None), Is.EqualTo(offset), $"offset of line {line}");
            Assert.That(await index.LinesBeforeAsync(offset, CancellationToken.None), Is.EqualTo(line - 1), $"lines before line {line}");
        }
    }

    [Test]
    public async Task Extend_ALogCutBack_IsIndexedAgainFromItsStart()
    {
        await WriteAsync(Enumerable.Range(1, 10).Select(i => $"line {i}"));
        var index = new LogIndex(_store, 1, 1);
        await index.ExtendAsync(CancellationToken.None);
        var path = Path.Combine(_dir, "logs", "1", "1.log");
        await using (var file = new FileStream(path, FileMode.Open)) file.SetLength(await OffsetOfAsync(4));

        var snapshot = await index.ExtendAsync(CancellationToken.None);

        Assert.That(snapshot.Lines, Is.EqualTo(3));
    }

    [Test]
    public async Task Search_FindsTheMatchingLinesOfTheWholeLog_IgnoringCaseTimestampsAndColours()
    {
        var lines = Enumerable.Range(1, 50_000).Select(i => i switch
        {
            7 => "an ERROR early",
            42_000 => "the \x1b[31merr\x1b[0mor is here",
            49_999 => "progress error 10%\rdone",
            _ => $"line {i} 2026",
        });
        await WriteAsync(lines);
        await using var log = _store.OpenRead(new LogRange(1, 1))!;

        var found = await LogSearch.FindAsync(log, "error", 100, CancellationToken.None);
        var years = await LogSearch.FindAsync(log, "2026-11", 100, CancellationToken.None);
        var capped = await LogSearch.FindAsync(log, "line", 10, CancellationToken.None);

        Assert.That(found.Offsets, Is.EqualTo(new[] { await OffsetOfAsync(7), await OffsetOfAsync(42_000) }));
        Assert.That(years.Offsets, Is.Empty, "the timestamps are not searched");
        Assert.That(capped.Offsets, Has.Count.EqualTo(10));
        Assert.That(capped.Capped, Is.True);
    }

    [Test]
    public async Task Window_ReadsTheLinesShown_FromTheEnd_FromANeighbour_OrThroughTheIndex_AndLetsTheOthersGo()
    {
        await WriteAsync(Enumerable.Range(1, 3000).Select(i => i == 5 ? "\x1b[32mgreen\x1b[0m" : $"line {i}"));
        var index = new LogIndex(_store, 1, 1);
        var snapshot = await index.ExtendAsync(CancellationToken.None);
        var window = new LogWindow(_store, index);

        await window.ShowAsync(Range(2901, 3000), snapshot, CancellationToken.None);
        var tail = window.Find(3000);
        await window.ShowAsync(Range(2801, 3000), snapshot, CancellationToken.None);
        var before = window.Find(2801);
        await window.ShowAsync(Range(1, 100), snapshot, CancellationToken.None);

        Assert.That(tail?.Content.Text, Is.EqualTo("line 3000"));
        Assert.That(before?.Content.Text, Is.EqualTo("line 2801"));
        Assert.That(window.Count, Is.EqualTo(100));
        Assert.That(window.Find(5)?.Content.Runs, Has.Count.EqualTo(1));
        Assert.That(window.Find(100)?.Content.Text, Is.EqualTo("line 100"));
        Assert.That(window.Find(100)?.At, Is.EqualTo(At));
        await window.ShowAsync(Range(1500, 1510), snapshot, CancellationToken.None);
        Assert.That(window.Find(1500)?.Content.Text, Is.EqualTo("line 1500"));
        Assert.That(window.Find(1500)?.Offset, Is.EqualTo(await OffsetOfAsync(1500)));
    }

    private static long[] Range(long from, long to) => Enumerable.Range((int)from, (int)(to - from + 1)).Select(i => (long)i).ToArray();
}
