using System.Globalization;
using BuildServer.Modules.Executors;

namespace BuildServer.Modules.Runtime;

/// <summary>
/// A step's output on its way to the reporter: workflow commands are acted on (<c>::add-mask::</c> first, so
/// the line that registers a mask is already masked), then every line is masked and passed on as written.
/// Both streams of a step arrive here, possibly at once; one lock keeps commands and lines in order.
/// </summary>
internal sealed class StepOutput(int stepIndex, SecretMasker masker, IOutputSink reporter, List<Annotation> annotations) : IOutputSink
{
    private static string Deprecated(string command) =>
        $"The `{command}` command is deprecated and will be disabled soon. Please upgrade to using Environment Files.";

    private readonly Lock _lock = new();
    private string? _stopToken;

    /// <summary>Values of the deprecated <c>::set-output::</c>, which GitHub still honours with a warning.</summary>
    public Dictionary<string, string> Outputs { get; } = new(StringComparer.Ordinal);

    /// <summary>Set when the step used a command that fails it (the disabled <c>set-env</c> / <c>add-path</c>).</summary>
    public string? Failure { get; private set; }

    public void Line(ReadOnlySpan<char> text, OutputChannel stream)
    {
        var line = text.ToString();
        lock (_lock)
        {
            if (_stopToken is not null)
            {
                if (string.Equals(line.Trim(), $"::{_stopToken}::", StringComparison.Ordinal)) _stopToken = null;
            }
            else if (WorkflowCommands.TryParse(line, out var command))
            {
                Act(command!);
            }
            reporter.Line(masker.Apply(line), stream);
        }
    }

    /// <summary>A line of the runtime's own (a reason, a warning), masked like the step's.</summary>
    public void Note(string text) => reporter.Line(masker.Apply(text), OutputChannel.Stdout);

    public void Warn(string message)
    {
        lock (annotations) annotations.Add(new Annotation(AnnotationLevel.Warning, masker.Apply(message), stepIndex, null, null, null, null));
        Note("Warning: " + message);
    }

    private void Act(WorkflowCommand command)
    {
        switch (command.Name)
        {
            case "add-mask":
                masker.Add(command.Data);
                break;
            case "error":
                Annotate(AnnotationLevel.Error, command);
                break;
            case "warning":
                Annotate(AnnotationLevel.Warning, command);
                break;
            case "notice":
                Annotate(AnnotationLevel.Notice, command);
                break;
            case "stop-commands":
                if (command.Data.Length > 0) _stopToken = command.Data;
                break;
            case "set-output":
                Warn(Deprecated("set-output"));
                if (command.Properties.TryGetValue("name", out var name) && name.Length > 0) Outputs[name] = command.Data;
                break;
            case "save-state":
                // State is for an action's post step; run steps have none, so it is accepted and unused.
                Warn(Deprecated("save-state"));
                break;
            case "set-env" or "add-path":
                var file = command.Name == "set-env" ? "GITHUB_ENV" : "GITHUB_PATH";
                Failure = $"the `{command.Name}` command is disabled; write to the file named by {file} instead";
                lock (annotations) annotations.Add(new Annotation(AnnotationLevel.Error, Failure, stepIndex, null, null, null, null));
                break;
        }
    }

    private void Annotate(AnnotationLevel level, WorkflowCommand command)
    {
        var p = command.Properties;
        var annotation = new Annotation(level, masker.Apply(command.Data), stepIndex,
            p.GetValueOrDefault("file") is { Length: > 0 } f ? masker.Apply(f) : null,
            Number(p, "line"), Number(p, "col"),
            p.GetValueOrDefault("title") is { Length: > 0 } t ? masker.Apply(t) : null);
        lock (annotations) annotations.Add(annotation);
    }

    private static int? Number(IReadOnlyDictionary<string, string> properties, string key) =>
        properties.TryGetValue(key, out var text) && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : null;
}
