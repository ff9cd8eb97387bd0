using BuildServer.Modules.Runs.Logs;
using Microsoft.AspNetCore.Components.Web;

namespace BuildServer.Modules.Runs.Ui.Log;

/// <summary>The log view's search: over the whole log on the server (as far as it was written when asked), not only the
/// lines shown; Enter finds the next match, Shift+Enter the previous one, and a match in a folded step or group opens it.</summary>
public sealed partial class LogPanel
{
    private string _query = "";
    private string _searched = "";
    private LogMatches? _matches;
    private int _match = -1;
    private long? _matchLine;
    private bool _searching;
    private CancellationTokenSource? _search;

    /// <summary>The text whose matches are marked in the lines shown (once searched).</summary>
    private string? SearchedText => _matches is not null && _searched.Length > 0 ? _searched : null;

    private string SearchSummary => _searching ? "Searching…"
        : _matches is null ? ""
        : _matches.Offsets.Count == 0 ? "No match"
        : $"{_match + 1} of {_matches.Offsets.Count}{(_matches.Capped ? "+" : "")}";

    private void QueryChanged(string? value) => _query = value ?? "";

    private async Task SearchKeyAsync(KeyboardEventArgs e)
    {
        if (e.Key != "Enter") return;
        if (_matches is null || _query != _searched) await SearchAsync();
        else await StepMatchAsync(e.ShiftKey ? -1 : 1);
    }

    private async Task SearchAsync()
    {
        CancelSearch();
        _search = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        var ct = _search.Token;
        (_searched, _matches, _match, _matchLine) = (_query, null, -1, null);
        if (_query.Length == 0 || _snapshot is null) return;
        _searching = true;
        StateHasChanged();
        var query = _query;
        var range = new LogRange(Current.RunId, Current.Id, 0, _snapshot.Length);
        try
        {
            // Off the circuit's dispatcher: reading a large log must not hold up the page's other events.
            _matches = await Task.Run(async () =>
            {
                await using var log = Store.OpenRead(range);
                return log is null ? new LogMatches([], false, 0) : await LogSearch.FindAsync(log, query, MaxMatches, ct);
            }, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return;
        }
        finally
        {
            if (!ct.IsCancellationRequested) _searching = false;
        }
        await StepMatchAsync(1);
    }

    private async Task StepMatchAsync(int direction)
    {
        if (_matches is not { Offsets.Count: > 0 } matches || _index is null) return;
        var count = matches.Offsets.Count;
        _match = _match < 0 ? (direction > 0 ? 0 : count - 1) : (_match + direction + count) % count;
        _matchLine = await _index.LinesBeforeAsync(matches.Offsets[_match], _stop.Token) + 1;
        await JumpToAsync(_matchLine.Value, highlight: false);
    }

    private void CancelSearch()
    {
        _search?.Cancel();
        _search?.Dispose();
        _search = null;
        _searching = false;
    }
}
