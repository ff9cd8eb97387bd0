using System.Globalization;
using BuildServer.Modules.Executors;

namespace BuildServer.Modules.Runtime.Local;

/// <summary>The console side of <c>buildserver run</c>: output prefixed with the job's name, a line per step
/// start and end, and a summary table. Thread-safe (a step's stdout and stderr arrive concurrently).</summary>
internal sealed class ConsoleReport(TextWriter output)
{
    private readonly Lock _lock = new();

    public void Line(string text)
    {
        lock (_lock) output.WriteLine(text);
    }

    public void JobStarting(string job) => Line($"[{job}] ▶ job started");

    public void JobFinished(string job, Conclusion conclusion, TimeSpan duration, string? reason) =>
        Line($"[{job}] {Mark(conclusion)} job {Word(conclusion)}" + (duration > TimeSpan.Zero ? $" in {Format(duration)}" : "") + (reason is null || conclusion == Conclusion.Success ? "" : $": {reason}"));

    public IJobReporter For(string job) => new JobReport(this, job);

    public void Summary(IReadOnlyList<(string Name, Conclusion Conclusion, TimeSpan Duration)> jobs, TimeSpan total)
    {
        var width = Math.Max(3, jobs.Count == 0 ? 3 : jobs.Max(j => j.Name.Length));
        Line("");
        Line($"{"job".PadRight(width)}  result     duration");
        Line($"{new string('-', width)}  ---------  --------");
        foreach (var (name, conclusion, duration) in jobs)
        {
            Line($"{name.PadRight(width)}  {Word(conclusion),-9}  {Format(duration)}");
        }
        Line($"{jobs.Count} job(s) in {Format(total)}");
    }

    internal static string Word(Conclusion conclusion) => conclusion switch
    {
        Conclusion.Success => "succeeded",
        Conclusion.Failure => "failed",
        Conclusion.Cancelled => "cancelled",
        Conclusion.Skipped => "skipped",
        _ => "timed out",
    };

    private static string Mark(Conclusion conclusion) => conclusion switch
    {
        Conclusion.Success => "✓",
        Conclusion.Skipped => "-",
        _ => "✗",
    };

    private static string Format(TimeSpan duration) =>
        duration.TotalSeconds < 60
            ? duration.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + "s"
            : $"{(int)duration.TotalMinutes}m{duration.Seconds:00}s";

    private sealed class JobReport(ConsoleReport console, string job) : IJobReporter, IOutputSink
    {
        private readonly Dictionary<int, DateTimeOffset> _started = [];

        public IOutputSink Output => this;

        public Task StepStartingAsync(int index, string name, CancellationToken cancellationToken)
        {
            _started[index] = DateTimeOffset.UtcNow;
            console.Line($"[{job}] ▶ {name}");
            return Task.CompletedTask;
        }

        public Task StepFinishedAsync(StepOutcome outcome, CancellationToken cancellationToken)
        {
            var duration = _started.TryGetValue(outcome.Index, out var at) ? DateTimeOffset.UtcNow - at : TimeSpan.Zero;
            var note = outcome.Conclusion != outcome.Outcome ? $" ({Word(outcome.Outcome)}, continue-on-error)" : "";
            var reason = outcome.Reason is null || outcome.Outcome == Conclusion.Success ? "" : $": {outcome.Reason}";
            console.Line($"[{job}] {Mark(outcome.Conclusion)} {outcome.Name} {Word(outcome.Conclusion)}{note}" +
                (outcome.Outcome == Conclusion.Skipped ? "" : $" in {Format(duration)}") + reason);
            return Task.CompletedTask;
        }

        public void Line(ReadOnlySpan<char> text, OutputChannel stream) => console.Line($"[{job}] | {text}");
    }
}
