using BuildServer.Modules.Hosting;
using System.Text.RegularExpressions;
using BuildServer.Modules.Scheduling;

namespace BuildServer.Modules.Projects;

/// <summary>
/// What a project's (and an organisation's) fields must be, in one place: the API's create and update and the web
/// UI's forms all ask these, so a form shows exactly the error the API would answer.
/// </summary>
internal static partial class ProjectRules
{
    public const string NameRule =
        "A project name is 1-100 characters of letters, digits, '.', '_' or '-', starts with a letter or digit, and is not a number.";

    public const string OrgNameRule =
        "An organisation name is 1-100 characters of letters, digits, '.', '_' or '-', starts with a letter or digit, and is not a number.";

    /// <summary>The web UI's page for a new project is <c>/projects/new</c>; a project of that name could not be opened.</summary>
    public const string ReservedName = "new";

    public const int MaxPipelinePath = 1000;
    public const int MaxRepositoryUrl = 2000;

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
    private static partial Regex NamePattern();

    /// <summary>Project and organisation names: letters, digits, '.', '_', '-', not a number (ids are).</summary>
    public static bool IsValidName(string name) => NamePattern().IsMatch(name) && !long.TryParse(name, out _);

    public static FieldError? Name(string? name) =>
        string.IsNullOrWhiteSpace(name) || !IsValidName(name) ? new FieldError("name", NameRule)
        : string.Equals(name, ReservedName, StringComparison.OrdinalIgnoreCase)
            ? new FieldError("name", $"'{name}' is the address of the new-project page (/projects/new); choose another name.")
        : null;

    public static FieldError? OrgName(string org) => IsValidName(org) ? null : new FieldError("org", OrgNameRule);

    /// <summary>A lane as written, or the field's error; null text is no lane (the caller keeps or defaults it).</summary>
    public static (Lane? Lane, FieldError? Error) Lane(string field, string? text) =>
        text is null ? (null, null)
        : Lanes.TryParse(text, out var lane) ? (lane, null)
        : (null, new FieldError(field, $"Unknown lane '{text}'; the lanes are: critical, high, normal, low."));

    /// <summary>The default lane must be one the highest lane allows (else every job would be capped below it).</summary>
    public static FieldError? LaneOrder(Lane defaultLane, Lane maxLane) =>
        defaultLane < maxLane
            ? new FieldError("defaultLane", $"The default lane ({defaultLane.ToWire()}) is above the highest lane ({maxLane.ToWire()}) the project may use.")
            : null;

    public static FieldError? PipelinePath(string? path) =>
        path is { Length: > MaxPipelinePath } ? new FieldError("pipelinePath", $"The pipeline path is longer than {MaxPipelinePath} characters.") : null;

    public static FieldError? RepositoryUrl(string? url) =>
        url is { Length: > 0 } && (url.Length > MaxRepositoryUrl || !Uri.TryCreate(url, UriKind.Absolute, out _))
            ? new FieldError("repositoryUrl", $"The repository URL must be an absolute URL of at most {MaxRepositoryUrl} characters.")
            : null;

    public static string? NullIfBlank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
