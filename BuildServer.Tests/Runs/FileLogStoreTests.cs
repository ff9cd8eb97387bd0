using System.Text;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Runs.Logs;

namespace BuildServer.Tests.Runs;

public sealed class FileLogStoreTests
{
    private string _dir = null!;
    private FileLogStore _store = null!;
    private static readonly DateTimeOffset At = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    [SetUp]
    public void CreateStore()
    {
        _dir = Directory.CreateTempSubdirectory("logstore-").FullName;
        _store = new FileLogStore(new DataDirectory(_dir));
    }

    [TearDown]
    public void RemoveStore() => Directory.Delete(_dir, recursive: true);

    private async Task<long> WriteAsync(int lines, int from = 0)
    {
        await using var writer = _store.OpenWriter(1, 1);
        for (var i = from; i < from + lines; i++)
        {
            writer.AppendLine(At, $"line {i}");
        }
        return writer.Position;
    }

    private static string[] Texts(LogSlice slice) =>
        Encoding.UTF8.GetString(slice.Data.Span).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l[(l.IndexOf(' ') + 1)..]).ToArray();

    [Test]
    public async Task AppendLine_WritesTimestampedLines()
    {
        await WriteAsync(2);

        var slice = await _store.ReadAsync(new LogRange(1, 1), 0, 1 << 20, CancellationToken.None);

        Assert.That(Encoding.UTF8.GetString(slice.Data.Span), Is.EqualTo("2026-11-24T12:00:00.0000000Z line 0\n2026-11-24T12:00:00.0000000Z line 1\n"));
        Assert.That(slice.NextOffset, Is.EqualTo(slice.Size));
    }

    [Test]
    public async Task Read_WithLimit_CutsAtALineEndAndContinuesFromNextOffset()
    {
        await WriteAsync(100);
        var range = new LogRange(1, 1);
        var seen = new List<string>();
        long offset = 0;
        long size;
        do
        {
            var slice = await _store.ReadAsync(range, offset, 100, CancellationToken.None);
            Assert.That(slice.Data.Span[^1], Is.EqualTo((byte)'\n'));
            seen.AddRange(Texts(slice));
            offset = slice.NextOffset;
            size = slice.Size;
        } while (offset < size);

        Assert.That(seen, Is.EqualTo(Enumerable.Range(0, 100).Select(i => $"line {i}")));
    }

    [TestCase(0)]
    [TestCase(1)]
    [TestCase(5)]
    [TestCase(100)]
    [TestCase(1000)]
    public async Task Tail_ReturnsTheLastLines(int lines)
    {
        await WriteAsync(100);

        var slice = await _store.TailAsync(new LogRange(1, 1), lines, CancellationToken.None);

        Assert.That(Texts(slice), Is.EqualTo(Enumerable.Range(0, 100).Select(i => $"line {i}").TakeLast(Math.Min(lines, 100))));
    }

    [Test]
    public async Task Tail_OfALargeLog_ReadsAcrossBlocks()
    {
        await WriteAsync(20_000);

        var slice = await _store.TailAsync(new LogRange(1, 1), 5000, CancellationToken.None);

        Assert.That(Texts(slice), Is.EqualTo(Enumerable.Range(15_000, 5000).Select(i => $"line {i}")));
    }

    [Test]
    public async Task Range_OfAStep_SeesOnlyThatStep()
    {
        var first = await WriteAsync(3);
        var second = await WriteAsync(4, from: 3);

        var step = new LogRange(1, 1, first, second);

        Assert.That(Texts(await _store.ReadAsync(step, 0, 1 << 20, CancellationToken.None)), Is.EqualTo(new[] { "line 3", "line 4", "line 5", "line 6" }));
        Assert.That(Texts(await _store.TailAsync(step, 2, CancellationToken.None)), Is.EqualTo(new[] { "line 5", "line 6" }));
        Assert.That(Texts(await _store.TailAsync(new LogRange(1, 1, 0, first), 10, CancellationToken.None)), Is.EqualTo(new[] { "line 0", "line 1", "line 2" }));
    }

    [Test]
    public async Task Read_OfALogNotWrittenYet_IsEmpty()
    {
        var slice = await _store.ReadAsync(new LogRange(9, 9), 0, 100, CancellationToken.None);

        Assert.That(slice.Size, Is.Zero);
        Assert.That(slice.Data.Length, Is.Zero);
    }
}
