namespace BuildServer.Modules.Scheduling;

/// <summary>A registered runner (agent) as the scheduler sees it. <paramref name="Online"/>: seen within the
/// configured offline delay (<c>Agents:OfflineAfter</c>).</summary>
public sealed record RunnerInfo(long Id, string Name, IReadOnlyList<string> Labels, int Slots, bool Online, DateTimeOffset? LastSeenAt)
{
    /// <summary>Whether this runner has every one of <paramref name="labels"/> (ordinal, as the scheduler matches).</summary>
    public bool HasAll(IEnumerable<string> labels) => labels.All(l => Labels.Contains(l, StringComparer.Ordinal));
}

/// <summary>How many registered runners have all of a label set, online and offline.</summary>
public sealed record LabelMatch(int Online, int Offline)
{
    /// <summary>No runner at all, online or not, could ever run it.</summary>
    public bool Nobody => Online == 0 && Offline == 0;
}

/// <summary>
/// The registered runners, for explaining waits ("no online agent has labels [x, y]") and for the label queue
/// timeout. Implemented by the Agents module over its runners; read-only, scoped (one database context per use).
/// </summary>
public interface IRunnerDirectory
{
    /// <summary>Every registered runner, with whether it is online now.</summary>
    Task<IReadOnlyList<RunnerInfo>> ListAsync(CancellationToken cancellationToken);

    /// <summary>How many runners have all of <paramref name="labels"/> (an empty set: every runner), online and offline.</summary>
    Task<LabelMatch> MatchAsync(IReadOnlyCollection<string> labels, CancellationToken cancellationToken);
}

public static class RunnerDirectoryExtensions
{
    /// <summary>The same count as <see cref="IRunnerDirectory.MatchAsync"/>, over a list already read (many label sets, one read).</summary>
    public static LabelMatch Match(this IEnumerable<RunnerInfo> runners, IReadOnlyCollection<string> labels)
    {
        int online = 0, offline = 0;
        foreach (var runner in runners.Where(r => r.HasAll(labels)))
        {
            if (runner.Online) online++;
            else offline++;
        }
        return new LabelMatch(online, offline);
    }
}
