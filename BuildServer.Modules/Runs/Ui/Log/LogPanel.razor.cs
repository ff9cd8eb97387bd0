using System.Globalization;
using System.Text.RegularExpressions;
using BuildServer.Modules.Runs.Logs;
using BuildServer.Modules.Web.Components;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.JSInterop;

namespace BuildServer.Modules.Runs.Ui.Log;

/// <summary>
/// The log of one attempt, live. It renders only the rows of <see cref="LogOutline"/> around the viewport (the lines
/// read through <see cref="LogWindow"/>, let go once out of view), so a 100 MB log costs a circuit a few hundred lines.
/// New lines come by <see cref="LogGrowth"/>, the store's signal, straight into the circuit; a re-check every second
/// (and a quarter of a second after the log grew) reads the attempt's status and steps, and catches what a signal could
/// not bring (a chunk stored by another server node). Following keeps the view at the end. See docs/ui.md.
/// </summary>
public sealed partial class LogPanel : IAsyncDisposable
{
    private const int TailRows = 150;
    private const int ExtraRows = 120;
    private const int MaxMatches = 10_000;
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(250);

    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<int, bool> _stepOpen = [];
    private readonly Dictionary<long, bool> _groupOpen = [];
    private ElementReference _log;
    private IJSObjectReference? _module;
    private DotNetObjectReference<LogPanel>? _self;
    private IDisposable? _watch;
    private LogIndex? _index;
    private LogWindow? _window;
    private LogIndexSnapshot? _snapshot;
    private LogOutline? _outline;
    private AttemptDetail? _attempt;
    private long _first;
    private long _last = -1;
    private bool _ready;
    private bool _follow;
    private bool _timestamps;
    private long? _highlight;
    private string? _jump;
    private int _jumpSeq;
    private bool _refreshing;
    private bool _refreshAgain;
    private bool _readAgain;
    private volatile bool _stepsDue;

    [Inject]
    private IServiceScopeFactory Scopes { get; set; } = default!;

    [Inject]
    private ILogStore Store { get; set; } = default!;

    [Inject]
    private LogIndexes Indexes { get; set; } = default!;

    [Inject]
    private LogGrowth Growth { get; set; } = default!;

    [Inject]
    private IJSRuntime JS { get; set; } = default!;

    [Inject]
    private TimeProvider Time { get; set; } = default!;

    [Parameter, EditorRequired]
    public long JobId { get; set; }

    /// <summary>The attempt as the page read it; the panel reads it again itself as it changes.</summary>
    [Parameter, EditorRequired]
    public AttemptDetail Attempt { get; set; } = default!;

    /// <summary>Told when the attempt's status, runner or times changed (the page's heading shows them).</summary>
    [Parameter]
    public EventCallback<AttemptDetail> AttemptChanged { get; set; }

    private AttemptDetail Current => _attempt ?? Attempt;

    private long RowCount => _outline?.RowCount ?? 0;

    private int Digits => Math.Max(3, (_snapshot?.Lines ?? 0).ToString(CultureInfo.InvariantCulture).Length);

    private string EmptyText => Current.Status switch
    {
        Status.Pending or Status.Queued => "Waiting for an agent to take this attempt…",
        Status.Running => "No output yet.",
        _ => "This attempt wrote no output.",
    };

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (!firstRender) return;
        try
        {
            _module = await JS.InvokeAsync<IJSObjectReference>("import", _stop.Token, "./" + Assets["_content/BuildServer.Modules/logview.js"]);
            _self = DotNetObjectReference.Create(this);
            var hash = LineOf(await _module.InvokeAsync<string?>("init", _stop.Token, _log, _self));
            _index = Indexes.For(Current.RunId, Current.Id);
            _window = new LogWindow(Store, _index);
            _watch = Growth.Watch(Current.Id, _ => Poke());
            _follow = !Current.Status.IsFinished() && hash is null;
            _snapshot = await _index.ExtendAsync(_stop.Token);
            await RebuildAsync();
            if (hash is { } line) await JumpToAsync(line, highlight: true);
            else await ShowTailAsync(jumpToEnd: !_follow);
            _ready = true;
            StateHasChanged();
            if (!Current.Status.IsFinished()) _ = WatchAsync();
        }
        catch (Exception e) when (e is JSDisconnectedException || _stop.IsCancellationRequested)
        {
            // The page was closed while opening.
        }
    }

    /// <summary>The safety net while the attempt runs: a re-read of the attempt every second, or a quarter of a second
    /// after the log grew (step boundaries move with the log), until the attempt finished.</summary>
    private async Task WatchAsync()
    {
        using var timer = new PeriodicTimer(Tick, Time);
        var ticks = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                if (_stepsDue || ++ticks % 4 == 0) await InvokeAsync(() => RefreshAsync(readAttempt: true));
                if (Current.Status.IsFinished()) return;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException && _stop.IsCancellationRequested)
        {
            // The page closed.
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await DispatchExceptionAsync(e);
        }
    }

    /// <summary>The store's signal, on the appender's thread: only hands the work to the circuit.</summary>
    private void Poke()
    {
        _stepsDue = true;
        _ = PokeAsync();
    }

    private async Task PokeAsync()
    {
        try
        {
            await InvokeAsync(() => RefreshAsync(readAttempt: false));
        }
        catch (Exception e) when (e is ObjectDisposedException or OperationCanceledException || _stop.IsCancellationRequested)
        {
            // The page closed.
        }
    }

    /// <summary>Brings the view up to the log (and, when asked, the attempt); one at a time, a call meanwhile runs once more after.</summary>
    private async Task RefreshAsync(bool readAttempt)
    {
        if (_index is null || _stop.IsCancellationRequested) return;
        if (_refreshing)
        {
            _refreshAgain = true;
            _readAgain |= readAttempt;
            return;
        }
        _refreshing = true;
        try
        {
            do
            {
                _refreshAgain = false;
                if (readAttempt || _readAgain) await ReadAttemptAsync();
                readAttempt = _readAgain = false;
                // After the attempt: a finished attempt's log is complete before its status changes.
                _snapshot = await _index.ExtendAsync(_stop.Token);
                await RebuildAsync();
                if (_follow) await ShowTailAsync(jumpToEnd: false);
                else await ShowRowsAsync(_first, _last);
                StateHasChanged();
            }
            while (_refreshAgain && !_stop.IsCancellationRequested);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        finally
        {
            _refreshing = false;
        }
    }

    private async Task ReadAttemptAsync()
    {
        _stepsDue = false;
        await using var scope = Scopes.CreateAsyncScope();
        var read = await scope.ServiceProvider.GetRequiredService<JobLogReads>().AttemptAsync(JobId, Current.Number, _stop.Token);
        if (read is null) return;
        var before = Current;
        _attempt = read;
        if (read.Status != before.Status || read.Runner != before.Runner || read.StartedAt != before.StartedAt
            || read.FinishedAt != before.FinishedAt || read.FailureReason != before.FailureReason)
        {
            await AttemptChanged.InvokeAsync(read);
        }
    }

    /// <summary>The outline anew: the steps placed by line (their byte offsets turned into line numbers by the index).</summary>
    private async Task RebuildAsync()
    {
        if (_index is null || _snapshot is null) return;
        var steps = new List<OutlineStep>(Current.Steps.Count);
        for (var i = 0; i < Current.Steps.Count; i++)
        {
            var step = Current.Steps[i];
            if (step.Status == Status.Pending)
            {
                steps.Add(new OutlineStep(i, null, null));
                continue;
            }
            var first = await _index.LinesBeforeAsync(step.LogStart, _stop.Token) + 1;
            long? end = step.LogEnd is { } logEnd ? await _index.LinesBeforeAsync(logEnd, _stop.Token) + 1 : null;
            steps.Add(new OutlineStep(i, first, end));
        }
        _outline = LogOutline.Build(_snapshot.Lines, steps, _snapshot.Markers, Current.Status.IsFinished(), _stepOpen, _groupOpen);
    }

    /// <summary>Renders rows <paramref name="from"/>..<paramref name="to"/> (clamped), reading the lines they show.</summary>
    private async Task ShowRowsAsync(long from, long to)
    {
        if (_outline is null || _window is null || _snapshot is null) return;
        to = Math.Min(to, RowCount - 1);
        from = Math.Clamp(from, 0, Math.Max(0, to));
        var lines = new List<long>();
        for (var row = from; row <= to; row++)
        {
            if (_outline.RowAt(row) is { Kind: RowKind.Line } at) lines.Add(at.Value);
        }
        await _window.ShowAsync(lines, _snapshot, _stop.Token);
        (_first, _last) = (from, to);
    }

    private async Task ShowTailAsync(bool jumpToEnd)
    {
        await ShowRowsAsync(RowCount - 1 - TailRows, RowCount - 1);
        if (jumpToEnd) _jump = "end:" + ++_jumpSeq;
    }

    /// <summary>Shows the line in the middle of the view (opening its step and group if folded) and stops following.</summary>
    private async Task JumpToAsync(long line, bool highlight)
    {
        if (_outline is null || _snapshot is null || line < 1 || line > _snapshot.Lines) return;
        if (_outline.RowOfLine(line) is null)
        {
            var (step, group) = _outline.Container(line);
            if (step is { } position) _stepOpen[position] = true;
            if (group is { } header) _groupOpen[header] = true;
            await RebuildAsync();
        }
        var shown = line;
        while (_outline.RowOfLine(shown) is null && shown > 1) shown--; // an ::endgroup:: line is never shown
        if (_outline.RowOfLine(shown) is not { } row) return;
        _follow = false;
        if (highlight) _highlight = line;
        await ShowRowsAsync(row - ExtraRows, row + ExtraRows);
        _jump = string.Create(CultureInfo.InvariantCulture, $"L{shown}:{++_jumpSeq}");
    }

    /// <summary>From logview.js: the viewport shows rows <paramref name="first"/>..<paramref name="last"/> and comes near an edge of those rendered.</summary>
    [JSInvokable]
    public async Task Viewport(long first, long last)
    {
        await ShowRowsAsync(first - ExtraRows, last + ExtraRows);
        StateHasChanged();
    }

    /// <summary>From logview.js: the reader scrolled up from the end.</summary>
    [JSInvokable]
    public void Unfollow()
    {
        _follow = false;
        StateHasChanged();
    }

    /// <summary>From logview.js: a line number was clicked (the address now ends in #L<paramref name="line"/>).</summary>
    [JSInvokable]
    public void LineLink(long line)
    {
        _highlight = line;
        StateHasChanged();
    }

    /// <summary>From logview.js: the address's #L changed.</summary>
    [JSInvokable]
    public async Task HashJump(long line)
    {
        await JumpToAsync(line, highlight: true);
        StateHasChanged();
    }

    private async Task FollowAsync()
    {
        _follow = !_follow;
        if (_follow) await ShowTailAsync(jumpToEnd: false);
    }

    private void ToggleTimestamps() => _timestamps = !_timestamps;

    private bool StepOpen(int position) => _stepOpen.GetValueOrDefault(position, true);

    private Task ToggleStepAsync(int position)
    {
        _stepOpen[position] = !StepOpen(position);
        return ReshapeAsync();
    }

    private Task ToggleGroupAsync(long line)
    {
        _groupOpen[line] = !(_outline?.GroupAt(line)?.Expanded ?? false);
        return ReshapeAsync();
    }

    /// <summary>After a fold: the same rows rendered (logview.js keeps the row at the top of the view where it was).</summary>
    private async Task ReshapeAsync()
    {
        await RebuildAsync();
        if (_follow) await ShowTailAsync(jumpToEnd: false);
        else await ShowRowsAsync(_first, _last);
    }

    private static long? LineOf(string? hash) =>
        hash is not null && HashLine().Match(hash) is { Success: true } m && long.TryParse(m.Groups[1].ValueSpan, CultureInfo.InvariantCulture, out var line)
            ? line : null;

    [GeneratedRegex(@"^#L(\d{1,12})$")]
    private static partial Regex HashLine();

    private string LineAddress(long line) => string.Create(CultureInfo.InvariantCulture, $"jobs/{JobId}?attempt={Current.Number}#L{line}");

    private string RowClass(long line, OutlineGroup? group) =>
        "bs-row" + (group is null ? "" : " bs-group") + (_highlight == line ? " bs-hl" : "") + (_matchLine == line ? " bs-cur" : "");

    private static string GroupTitle(LogLine? line) => line is null ? "" : LogLineFormat.GroupTitle(line.Content.Text) ?? line.Content.Text;

    private static string GroupSize(OutlineGroup group) =>
        group.BodyLines == 1 ? "1 line" : string.Create(CultureInfo.InvariantCulture, $"{group.BodyLines:N0} lines");

    private static string StatusGlyph(Status status) => status switch
    {
        Status.Succeeded => "✓",
        Status.Failed or Status.TimedOut or Status.Lost => "✗",
        Status.Running => "●",
        Status.Cancelled => "⊘",
        _ => "○",
    };

    private string StepDuration(StepDetail step)
    {
        if (step.StartedAt is not { } started) return "";
        var end = step.FinishedAt ?? (Current.Status.IsFinished() ? Current.FinishedAt : null) ?? Time.GetUtcNow();
        return TimeText.Duration(end - started);
    }

    public async ValueTask DisposeAsync()
    {
        _watch?.Dispose();
        await _stop.CancelAsync();
        CancelSearch();
        if (_module is not null)
        {
            try
            {
                await _module.InvokeVoidAsync("dispose", _log);
                await _module.DisposeAsync();
            }
            catch (Exception e) when (e is JSDisconnectedException or OperationCanceledException or JSException)
            {
                // The browser is gone already.
            }
        }
        _self?.Dispose();
        _stop.Dispose();
    }
}
