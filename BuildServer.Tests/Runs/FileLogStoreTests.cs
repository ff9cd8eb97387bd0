using System.Text;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Runs.Logs;

namespace BuildServer.Tests.Runs;

public sealed class FileLogStoreTests
{
    private string _dir = null!;
    private FileLogStore _store = null!;
    private readonly LogGrowth _growth = new();
    private static readonly DateTimeOffset At = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    [SetUp]
    public void CreateStore()
    {
        _dir = Directory.CreateTempSubdirectory("logstore-").FullName;
        _store = new FileLogStore(new DataDirectory(_dir), _growth);
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
    // ---- chunk appends (the agent protocol's log chunks) ----

    private const long Cap = 1 << 20;

    private static byte[] Chunk(params string[] texts) =>
        Encoding.UTF8.GetBytes(string.Concat(texts.Select(t => $"2026-11-24T12:00:00.0000000Z {t}\n")));

    private Task<ChunkResult> AppendAsync(long sequence, long offset, byte[] chunk, long cap = Cap) =>
        _store.AppendChunkAsync(1, 1, sequence, offset, chunk, cap, CancellationToken.None);

    private async Task<byte[]> StoredAsync() =>
        (await _store.ReadAsync(new LogRange(1, 1), 0, 1 << 20, CancellationToken.None)).Data.ToArray();

    private string LogPath => Path.Combine(_dir, "logs", "1", "1.log");

    [Test]
    public async Task AppendChunk_InOrder_StoresThemOneAfterAnother()
    {
        var first = Chunk("one", "two");
        var second = Chunk("three");

        var stored1 = await AppendAsync(1, 0, first);
        var stored2 = await AppendAsync(2, first.Length, second);

        Assert.That(stored1, Is.EqualTo(new ChunkResult(ChunkOutcome.Stored, 1, first.Length)));
        Assert.That(stored2, Is.EqualTo(new ChunkResult(ChunkOutcome.Stored, 2, first.Length + second.Length)));
        Assert.That(await StoredAsync(), Is.EqualTo(first.Concat(second).ToArray()));
    }

    [Test]
    public async Task AppendChunk_Resent_IsADuplicateAndWritesNothing()
    {
        var first = Chunk("one");
        var second = Chunk("two");
        await AppendAsync(1, 0, first);
        await AppendAsync(2, first.Length, second);

        var again2 = await AppendAsync(2, first.Length, second);
        var again1 = await AppendAsync(1, 0, first);

        var length = first.Length + second.Length;
        Assert.That(again2, Is.EqualTo(new ChunkResult(ChunkOutcome.Duplicate, 2, length)));
        Assert.That(again1, Is.EqualTo(new ChunkResult(ChunkOutcome.Duplicate, 2, length)));
        Assert.That(await StoredAsync(), Is.EqualTo(first.Concat(second).ToArray()));
    }

    [Test]
    public async Task AppendChunk_AfterAGap_IsOutOfOrderAndWritesNothing()
    {
        var first = Chunk("one");
        await AppendAsync(1, 0, first);

        var gap = await AppendAsync(3, first.Length, Chunk("three"));
        var firstEver = await _store.AppendChunkAsync(1, 2, 2, 0, Chunk("two"), Cap, CancellationToken.None);

        Assert.That(gap, Is.EqualTo(new ChunkResult(ChunkOutcome.OutOfOrder, 1, first.Length)));
        Assert.That(firstEver, Is.EqualTo(new ChunkResult(ChunkOutcome.OutOfOrder, 0, 0)));
        Assert.That(await StoredAsync(), Is.EqualTo(first));
    }

    [TestCase(-1)]
    [TestCase(1)]
    [TestCase(1000)]
    public async Task AppendChunk_AtAnotherOffset_IsAnOffsetMismatchAndWritesNothing(int shift)
    {
        var first = Chunk("one");
        await AppendAsync(1, 0, first);

        var result = await AppendAsync(2, first.Length + shift, Chunk("two"));

        Assert.That(result, Is.EqualTo(new ChunkResult(ChunkOutcome.OffsetMismatch, 1, first.Length)));
        Assert.That(await StoredAsync(), Is.EqualTo(first));
        Assert.That(await AppendAsync(2, first.Length, Chunk("two")), Has.Property(nameof(ChunkResult.Outcome)).EqualTo(ChunkOutcome.Stored));
    }

    [Test]
    public async Task AppendChunk_PastTheCap_IsRefusedAndWhatIsStoredStays()
    {
        var first = Chunk("one");
        var cap = first.Length * 2;
        await AppendAsync(1, 0, first, cap);
        await AppendAsync(2, first.Length, first, cap);

        var refused = await AppendAsync(3, cap, Chunk("x"), cap);

        Assert.That(refused, Is.EqualTo(new ChunkResult(ChunkOutcome.TooLarge, 2, cap)));
        Assert.That(await StoredAsync(), Is.EqualTo(first.Concat(first).ToArray()));
    }

    [Test]
    public async Task AppendChunk_ExactlyUpToTheCap_IsStored()
    {
        var first = Chunk("one");

        var stored = await AppendAsync(1, 0, first, first.Length);

        Assert.That(stored, Is.EqualTo(new ChunkResult(ChunkOutcome.Stored, 1, first.Length)));
    }

    [Test]
    public async Task AppendChunk_AfterACrashBetweenLogAndSequence_CutsTheUnvouchedBytes()
    {
        var first = Chunk("one");
        await AppendAsync(1, 0, first);
        // A crash after writing chunk 2's bytes but before recording its sequence number: the log is longer than
        // the ".seq" file vouches for, and the agent re-sends chunk 2 (maybe with other bytes: it was never acknowledged).
        await File.AppendAllTextAsync(LogPath, "2026-11-24T12:00:00.0000000Z half a chunk that was never ackn");
        var second = Chunk("two");

        var stored = await AppendAsync(2, first.Length, second);

        Assert.That(stored, Is.EqualTo(new ChunkResult(ChunkOutcome.Stored, 2, first.Length + second.Length)));
        Assert.That(await StoredAsync(), Is.EqualTo(first.Concat(second).ToArray()));
        Assert.That(new FileInfo(LogPath).Length, Is.EqualTo(first.Length + second.Length));
    }

    [Test]
    public async Task AppendChunk_AfterACrashBeforeTheFirstSequence_StartsTheLogAfresh()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(LogPath)!);
        await File.WriteAllTextAsync(LogPath, "2026-11-24T12:00:00.0000000Z torn\n");
        await File.WriteAllBytesAsync(LogPath + ".seq", []);
        var first = Chunk("one");

        var stored = await AppendAsync(1, 0, first);

        Assert.That(stored, Is.EqualTo(new ChunkResult(ChunkOutcome.Stored, 1, first.Length)));
        Assert.That(await StoredAsync(), Is.EqualTo(first));
    }

    [Test]
    public async Task AppendChunk_ManyAtOnceForOneAttempt_AreSerialised()
    {
        var chunk = Chunk("line");
        var tries = Enumerable.Range(0, 20).Select(_ => AppendAsync(1, 0, chunk)).ToArray();

        var results = await Task.WhenAll(tries);

        Assert.That(results.Count(r => r.Outcome == ChunkOutcome.Stored), Is.EqualTo(1));
        Assert.That(results.Count(r => r.Outcome == ChunkOutcome.Duplicate), Is.EqualTo(19));
        Assert.That(await StoredAsync(), Is.EqualTo(chunk));
    }

    // ---- the growth signal and streamed reads (the log view) ----

    [Test]
    public async Task AppendChunk_Stored_TellsTheAttemptsWatchersTheNewLength_AndADuplicateDoesNot()
    {
        var lengths = new List<long>();
        using var watch = _growth.Watch(1, lengths.Add);
        var chunk = Chunk("one");

        await AppendAsync(1, 0, chunk);
        await AppendAsync(1, 0, chunk);
        await _store.AppendChunkAsync(1, 2, 1, 0, chunk, Cap, CancellationToken.None);

        Assert.That(lengths, Is.EqualTo(new[] { (long)chunk.Length }));
    }

    [Test]
    public async Task Watch_Disposed_IsToldNothingMore()
    {
        var told = 0;
        var watch = _growth.Watch(1, _ => told++);
        watch.Dispose();

        await AppendAsync(1, 0, Chunk("one"));

        Assert.That(told, Is.Zero);
        Assert.That(_growth.WatcherCount(1), Is.Zero);
    }

    [Test]
    public async Task OpenWriter_Flushed_TellsTheWatchers()
    {
        var lengths = new List<long>();
        using var watch = _growth.Watch(1, lengths.Add);

        var end = await WriteAsync(3);

        Assert.That(lengths, Is.Not.Empty);
        Assert.That(lengths[^1], Is.EqualTo(end));
    }

    [Test]
    public async Task OpenRead_EndsWhereTheRangeEndedWhenOpened()
    {
        var first = await WriteAsync(3);
        await using var stream = _store.OpenRead(new LogRange(1, 1, 0, null))!;
        await WriteAsync(2, from: 3);

        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);

        Assert.That(stream.Length, Is.EqualTo(first));
        Assert.That(Encoding.UTF8.GetString(copy.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(3));
        Assert.That(_store.OpenRead(new LogRange(9, 9)), Is.Null);
    }
}
