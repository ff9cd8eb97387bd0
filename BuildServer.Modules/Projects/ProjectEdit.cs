using BuildServer.Modules.Hosting;
using BuildServer.Modules.Scheduling;

namespace BuildServer.Modules.Projects;

internal enum EditOutcome
{
    Saved,
    /// <summary>A field is wrong (<see cref="ProjectEdit.Errors"/>); nothing was stored.</summary>
    Invalid,
    /// <summary>Another project already has the name; nothing was stored.</summary>
    Conflict,
    NotFound,
}

/// <summary>How a create or an update of a project ended: the project as stored, or why not (every field's error).</summary>
internal sealed record ProjectEdit(EditOutcome Outcome, ProjectResponse? Project, IReadOnlyList<FieldError> Errors)
{
    public static ProjectEdit Saved(Project project, string org) => new(EditOutcome.Saved, Response(project, org), []);

    public static ProjectEdit Invalid(IReadOnlyList<FieldError> errors) => new(EditOutcome.Invalid, null, errors);

    public static ProjectEdit Conflict(string name) =>
        new(EditOutcome.Conflict, null, [new FieldError("name", $"A project named '{name}' already exists.")]);

    public static readonly ProjectEdit NotFound = new(EditOutcome.NotFound, null, []);

    public static ProjectResponse Response(Project p, string org) => new(p.Id, p.Name, org, p.PipelinePath, p.RepositoryUrl, p.CreatedAt,
        (p.DefaultLane ?? Lane.Normal).ToWire(), (p.MaxLane ?? Lane.Critical).ToWire());
}
