using System.Buffers;
using System.Globalization;
using System.Text.Json;
using BuildServer.Modules.Agents.Protocol;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Runs;
using BuildServer.Modules.Runs.Logs;
using Microsoft.Extensions.Logging;

namespace BuildServer.Modules.Agents.Worker;

/// <summary>One report of an attempt, in the order the job made them: a step update or the completion (always last).
/// <see cref="LogOffset"/> is how much log precedes it: the log is delivered up to there first.</summary>
internal sealed record OutboxEvent(long LogOffset, int? StepIndex = null, StepUpdate? Step = null, CompletionRequest? Completion = null);

public enum Delivery
{
    Delivered,
    /// <summary>The server no longer wants it (the attempt was superseded, or is not this agent's): dropped.</summary>
    Discarded,
}

/// <summary>
/// What an agent has to tell the server about one attempt, kept on disk until the server has it, so that an
/// outage or an agent restart loses nothing (static stability). A folder per attempt under the agent's
/// <c>outbox/</c>: <c>job.json</c> (which attempt), <c>log</c> (the attempt's log in the server's line format: its byte
/// offsets are the server's), <c>events.jsonl</c> (step updates and the completion, in order) and <c>sent</c> (how far
/// delivery got: chunk sequence, log offset, events). <see cref="DeliverAsync"/> sends it all in order: log chunks
/// with sequence numbers (a re-send is acknowledged, never stored twice), then each event once the log before it is
/// there; once the completion is acknowledged the folder is removed.
/// </summary>
internal sealed class AttemptOutbox
{
    private const string JobFile = "job.json";
    private const string LogFile = "log";
    private const string EventsFile = "events.jsonl";
    private const string SentFile = "sent";

    private readonly string _dir;
    private readonly List<OutboxEvent> _events = [];
    private readonly Lock _gate = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _sequence;
    private long _sentOffset;
    private int _eventsSent;
    private bool _logCut;
    private volatile bool _discarded;

    private AttemptOutbox(string dir, long attemptId, long runId)
    {
        _dir = dir;
        AttemptId = attemptId;
        RunId = runId;
    }

    public long AttemptId { get; }

    public long RunId { get; }

    private string LogPath => Path.Combine(_dir, LogFile);

    /// <summary>The log's length on disk (flushed output).</summary>
    public long LogLength => File.Exists(LogPath) ? new FileInfo(LogPath).Length : 0;

    /// <summary>A new outbox for a job just acquired; its <see cref="OpenLog"/> takes the job's output.</summary>
    public static AttemptOutbox Create(string root, AgentJob job)
    {
        var dir = Path.Combine(root, job.AttemptId.ToString(CultureInfo.InvariantCulture));
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); // a stale try of the same attempt
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, JobFile), JsonSerializer.Serialize(new OutboxJob(job.AttemptId, job.RunId), JsonDefaults.Options));
        return new AttemptOutbox(dir, job.AttemptId, job.RunId);
    }

    public ILogWriter OpenLog() => FileLogStore.OpenWriterAt(LogPath);

    /// <summary>Outboxes an earlier start of the agent left: undelivered results, or jobs it was running when it stopped
    /// (their log is kept, a line says what happened, and they are completed as <c>lost</c>, so the server retries them).</summary>
    public static List<AttemptOutbox> Recover(string root, TimeProvider time, ILogger logger)
    {
        var found = new List<AttemptOutbox>();
        if (!Directory.Exists(root)) return found;
        foreach (var dir in Directory.EnumerateDirectories(root))
        {
            try
            {
                var job = JsonSerializer.Deserialize<OutboxJob>(File.ReadAllText(Path.Combine(dir, JobFile)), JsonDefaults.Options)
                          ?? throw new JsonException($"{JobFile} is empty");
                var outbox = new AttemptOutbox(dir, job.AttemptId, job.RunId);
                outbox.Load();
                if (!outbox.Completed)
                {
                    outbox.CutPartialLine();
                    var reason = "the agent stopped while the attempt was running";
                    var log = outbox.OpenLog();
                    log.AppendLine(time.GetUtcNow(), "The agent restarted while this attempt was running: it is reported lost, and the server retries it.");
                    log.DisposeAsync().AsTask().GetAwaiter().GetResult();
                    outbox.Add(new OutboxEvent(new FileInfo(outbox.LogPath).Length, Completion: new CompletionRequest(Status.Lost, null, reason, null, null)));
                }
                logger.LogInformation("Attempt {AttemptId}: results of an earlier start are delivered now", job.AttemptId);
                found.Add(outbox);
            }
            catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
            {
                logger.LogWarning(e, "The outbox folder {Dir} cannot be read; it is removed", dir);
                TryDelete(dir);
            }
        }
        return found;
    }

    public bool Completed
    {
        get
        {
            lock (_gate) return _events.Count > 0 && _events[^1].Completion is not null;
        }
    }

    /// <summary>Records a report (durably) and wakes the delivery.</summary>
    public void Add(OutboxEvent report)
    {
        lock (_gate)
        {
            File.AppendAllText(Path.Combine(_dir, EventsFile), JsonSerializer.Serialize(report, JsonDefaults.Options) + "\n");
            _events.Add(report);
        }
        Wake();
    }

    /// <summary>New log output is there to send (the job's log writer flushed).</summary>
    public void Wake() => Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>The server no longer wants this attempt's reports: delivery stops and the folder goes.</summary>
    public void Discard()
    {
        _discarded = true;
        Wake();
    }

    /// <summary>Delivers everything, in order, until the completion is acknowledged (or the server refuses the attempt).
    /// While the server is unreachable it retries with <paramref name="backoff"/>; reports are never lost meanwhile.</summary>
    public async Task<Delivery> DeliverAsync(IAgentTransport transport, Backoff backoff, TimeSpan poll, ILogger logger, CancellationToken ct)
    {
        var failures = 0;
        while (true)
        {
            var changed = Volatile.Read(ref _changed).Task;
            if (_discarded)
            {
                TryDelete(_dir);
                return Delivery.Discarded;
            }
            try
            {
                if (await SendPendingAsync(transport, logger, ct))
                {
                    TryDelete(_dir);
                    return Delivery.Delivered;
                }
                if (failures > 0) logger.LogInformation("Attempt {AttemptId}: the server is reachable again; delivering", AttemptId);
                failures = 0;
            }
            catch (AgentCallRefusedException e) when (e.AttemptGone)
            {
                logger.LogWarning("Attempt {AttemptId}: the server refused its report ({Status}): {Detail} Its remaining reports are discarded.", AttemptId, e.Status, e.Message);
                TryDelete(_dir);
                return Delivery.Discarded;
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                // Unreachable, refused for now (a disabled agent's 401), or a failure of our own: the reports stay on disk.
                var pause = backoff.Delay(failures++);
                if (failures == 1 && e is ServerUnavailableException or AgentCallRefusedException)
                {
                    logger.LogWarning("Attempt {AttemptId}: reports wait on disk ({Error}); retrying in {Pause}", AttemptId, e.Message, pause);
                }
                else if (failures == 1)
                {
                    logger.LogError(e, "Attempt {AttemptId}: delivering its reports failed; retrying in {Pause}", AttemptId, pause);
                }
                await Waits.QuietlyAsync(Task.Delay(pause, ct));
                continue;
            }
            await Waits.QuietlyAsync(changed.WaitAsync(poll, ct));
            ct.ThrowIfCancellationRequested();
        }
    }

    /// <summary>Sends what is pending; true once the completion is acknowledged.</summary>
    private async Task<bool> SendPendingAsync(IAgentTransport transport, ILogger logger, CancellationToken ct)
    {
        while (true)
        {
            OutboxEvent? next;
            lock (_gate) next = _eventsSent < _events.Count ? _events[_eventsSent] : null;
            var upTo = next?.LogOffset ?? long.MaxValue;
            await SendLogAsync(transport, upTo, logger, ct);
            if (next is null || (_sentOffset < next.LogOffset && !_logCut)) return false; // its log is not flushed yet
            if (next.Completion is { } completion)
            {
                await transport.CompleteAsync(AttemptId, completion, ct);
            }
            else
            {
                await transport.UpdateStepAsync(AttemptId, next.StepIndex!.Value, next.Step!, ct);
            }
            _eventsSent++;
            SaveProgress();
            if (next.Completion is not null) return true;
        }
    }

    /// <summary>Sends whole lines of the log from where the server's copy ends, up to <paramref name="upTo"/>, in chunks.</summary>
    private async Task SendLogAsync(IAgentTransport transport, long upTo, ILogger logger, CancellationToken ct)
    {
        if (_logCut || Math.Min(upTo, LogLength) <= _sentOffset) return; // nothing new: no file opened, no buffer taken
        await using var log = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.Asynchronous);
        var buffer = ArrayPool<byte>.Shared.Rent(AgentWire.ChunkBytes);
        try
        {
            await SendChunksAsync(transport, log, buffer, upTo, logger, ct);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task SendChunksAsync(IAgentTransport transport, FileStream log, byte[] rented, long upTo, ILogger logger, CancellationToken ct)
    {
        var buffer = rented.AsMemory(0, AgentWire.ChunkBytes);
        while (true)
        {
            var end = Math.Min(upTo, log.Length);
            if (_sentOffset >= end) return;
            log.Position = _sentOffset;
            var count = (int)Math.Min(buffer.Length, end - _sentOffset);
            await log.ReadExactlyAsync(buffer[..count], ct);
            var whole = buffer.Span[..count].LastIndexOf((byte)'\n') + 1;
            if (whole == 0)
            {
                if (count < buffer.Length) return; // a line still being written
                logger.LogWarning("Attempt {AttemptId}: a log line longer than {Max} bytes; the rest of the log is not sent", AttemptId, buffer.Length);
                _logCut = true;
                SaveProgress();
                return;
            }
            try
            {
                var stored = await transport.SendLogAsync(AttemptId, _sequence + 1, _sentOffset, buffer[..whole], ct);
                _sequence = stored.Sequence;
                _sentOffset = stored.Length;
            }
            catch (AgentCallRefusedException e) when (e.Reason is "out_of_order" or "offset_mismatch" && e.Length <= log.Length)
            {
                // The server's copy is elsewhere than we thought (our progress file is older than its acknowledgement): resume there.
                logger.LogInformation("Attempt {AttemptId}: the server has log chunks up to {Sequence} ({Length} bytes); resuming from there", AttemptId, e.Sequence, e.Length);
                _sequence = e.Sequence!.Value;
                _sentOffset = e.Length!.Value;
            }
            catch (AgentCallRefusedException e) when (e.Reason is "log_limit" or "chunk_too_large" or "out_of_order" or "offset_mismatch")
            {
                logger.LogWarning("Attempt {AttemptId}: the server stores no more of its log: {Detail}", AttemptId, e.Message);
                _logCut = true;
            }
            SaveProgress();
        }
    }

    private void SaveProgress() =>
        File.WriteAllText(Path.Combine(_dir, SentFile), string.Join(' ', _sequence, _sentOffset, _eventsSent, _logCut ? 1 : 0));

    private void Load()
    {
        var events = Path.Combine(_dir, EventsFile);
        if (File.Exists(events))
        {
            foreach (var line in File.ReadLines(events).Where(l => l.Length > 0))
            {
                try
                {
                    _events.Add(JsonSerializer.Deserialize<OutboxEvent>(line, JsonDefaults.Options)!);
                }
                catch (JsonException)
                {
                    break; // a line cut short by a crash: it and anything after it never happened
                }
            }
        }
        var sent = Path.Combine(_dir, SentFile);
        if (File.Exists(sent) && File.ReadAllText(sent).Split(' ') is [var seq, var offset, var count, var cut])
        {
            _sequence = long.Parse(seq, CultureInfo.InvariantCulture);
            _sentOffset = long.Parse(offset, CultureInfo.InvariantCulture);
            _eventsSent = Math.Min(int.Parse(count, CultureInfo.InvariantCulture), _events.Count);
            _logCut = cut == "1";
        }
    }

    /// <summary>A line a crash cut short never reaches the server (chunks hold whole lines).</summary>
    private void CutPartialLine()
    {
        if (!File.Exists(LogPath)) return;
        using var log = new FileStream(LogPath, FileMode.Open, FileAccess.ReadWrite);
        var length = log.Length;
        var probe = new byte[1];
        while (length > 0)
        {
            log.Position = length - 1;
            log.ReadExactly(probe);
            if (probe[0] == '\n') break;
            length--;
        }
        log.SetLength(length);
    }

    private static void TryDelete(string dir)
    {
        try
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private sealed record OutboxJob(long AttemptId, long RunId);
}

/// <summary>Exponential backoff with full jitter, between <paramref name="First"/> and <paramref name="Max"/>.</summary>
internal sealed record Backoff(TimeSpan First, TimeSpan Max)
{
    public static readonly Backoff Default = new(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(15));

    public TimeSpan Delay(int failures)
    {
        var ceiling = Math.Min(Max.TotalMilliseconds, First.TotalMilliseconds * Math.Pow(2, Math.Min(failures, 20)));
        // Half fixed, half random: agents that lost the server together do not come back together.
        return TimeSpan.FromMilliseconds(ceiling / 2 + Random.Shared.NextDouble() * ceiling / 2);
    }
}
