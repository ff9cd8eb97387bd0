using System.Globalization;
using System.Text.Json.Nodes;
using BuildServer.Modules.Pipelines.Workflow;

namespace BuildServer.Modules.Pipelines.Planning;

/// <summary>An input given to a run that the workflow refuses; <see cref="Field"/> is <c>inputs.&lt;name&gt;</c>.</summary>
public sealed record InputError(string Field, string Message);

/// <summary>The <c>inputs</c> context of a run from the inputs given and the workflow's declared
/// <c>workflow_dispatch</c> (or <c>workflow_call</c>) inputs: defaults applied, required ones checked, booleans
/// and numbers typed, choices checked. An input the workflow does not declare is an error, as on GitHub. A required
/// input given as an empty (or blank) text counts as not given: a form's empty field is no value.</summary>
public static class DispatchInputs
{
    public const int MaxValueLength = 64 * 1024;

    /// <summary>The inputs a run of the workflow takes, in the order written (what a form asks for).</summary>
    public static IReadOnlyDictionary<string, InputSpec> Declared(Workflow.Workflow workflow)
    {
        ArgumentNullException.ThrowIfNull(workflow);
        return workflow.On.WorkflowDispatch?.Inputs ?? workflow.On.WorkflowCall?.Inputs ?? new Dictionary<string, InputSpec>();
    }

    public static (JsonObject Inputs, IReadOnlyList<InputError> Errors) Resolve(Workflow.Workflow workflow, IReadOnlyDictionary<string, string>? given)
    {
        ArgumentNullException.ThrowIfNull(workflow);
        var declared = Declared(workflow);
        var inputs = new JsonObject();
        var errors = new List<InputError>();
        var byName = new Dictionary<string, InputSpec>(declared, StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in given ?? new Dictionary<string, string>())
        {
            if (!byName.ContainsKey(name))
            {
                var known = declared.Count == 0 ? "the workflow declares no inputs" : "declared: " + string.Join(", ", declared.Keys);
                errors.Add(new InputError($"inputs.{name}", $"Unexpected input '{name}'; {known}."));
            }
            else if (value.Length > MaxValueLength)
            {
                errors.Add(new InputError($"inputs.{name}", $"Input '{name}' is longer than {MaxValueLength} characters."));
            }
        }
        var givenByName = new Dictionary<string, string>(given ?? new Dictionary<string, string>(), StringComparer.OrdinalIgnoreCase);
        foreach (var (name, spec) in declared)
        {
            var text = givenByName.GetValueOrDefault(name) ?? spec.Default;
            if (text is null || (spec.Required && string.IsNullOrWhiteSpace(text)))
            {
                if (spec.Required)
                {
                    errors.Add(new InputError($"inputs.{name}", $"Input '{name}' is required."));
                }
                else
                {
                    inputs[name] = spec.Type switch
                    {
                        InputType.Boolean => false,
                        InputType.Number => null,
                        _ => "",
                    };
                }
                continue;
            }
            switch (spec.Type)
            {
                case InputType.Boolean when bool.TryParse(text.Trim(), out var b):
                    inputs[name] = b;
                    break;
                case InputType.Boolean:
                    errors.Add(new InputError($"inputs.{name}", $"Input '{name}' must be true or false, not '{Shorten(text)}'."));
                    break;
                case InputType.Number when double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && double.IsFinite(n):
                    inputs[name] = n;
                    break;
                case InputType.Number:
                    errors.Add(new InputError($"inputs.{name}", $"Input '{name}' must be a number, not '{Shorten(text)}'."));
                    break;
                case InputType.Choice when !spec.Options.Contains(text, StringComparer.Ordinal):
                    errors.Add(new InputError($"inputs.{name}", $"Input '{name}' must be one of {string.Join(", ", spec.Options.Select(o => $"'{o}'"))}, not '{Shorten(text)}'."));
                    break;
                default:
                    inputs[name] = text;
                    break;
            }
        }
        return (inputs, errors);
    }

    private static string Shorten(string text) => text.Length > 60 ? text[..60] + "…" : text;
}
