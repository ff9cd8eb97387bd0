using BuildServer.Modules.Pipelines.Workflow;

namespace BuildServer.Modules.Pipelines.Planning;

/// <summary>How a step is named before it runs: its <c>name</c> as written, else <c>Run &lt;first line&gt;</c>
/// or the action it uses (GitHub's convention). The runtime may refine a name that holds an expression.</summary>
public static class StepNames
{
    public const int MaxLength = 500;

    public static string Display(WorkflowStep step)
    {
        ArgumentNullException.ThrowIfNull(step);
        var name = step.Name?.Text is { Length: > 0 } n ? n
            : step.Run is { } run ? "Run " + FirstLine(run.Text)
            : step.Uses is { } uses ? "Run " + uses
            : $"Step {step.Index + 1}";
        return name.Length > MaxLength ? name[..(MaxLength - 1)] + "…" : name;
    }

    private static string FirstLine(string text) =>
        text.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0) ?? "";
}
