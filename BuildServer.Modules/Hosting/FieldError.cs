using Microsoft.AspNetCore.Http.HttpResults;

namespace BuildServer.Modules.Hosting;

/// <summary>Why a value was refused, and which field it was: what an API answers as a problem naming the field
/// (<see cref="Problem"/>) and what a page shows under that field. One rule, two ways of saying it.</summary>
/// <param name="Field">The field's name on the wire (camelCase, as the API's JSON spells it).</param>
public sealed record FieldError(string Field, string Message)
{
    public ValidationProblem Problem() => Problems.Field(Field, Message);
}

public enum ChangeOutcome
{
    Done,
    NotFound,
    /// <summary>A value was refused (an API's 400): <see cref="Change{T}.Error"/> names the field.</summary>
    Invalid,
    /// <summary>Refused by the state of things (an API's 409), e.g. a name taken or the last server admin.</summary>
    Conflict,
    /// <summary>The caller's role does not allow it (403).</summary>
    Forbidden,
}

/// <summary>The outcome of an administrative change, shared by a module's API and its pages: the changed thing, or
/// why not (with the field to show it under). Made by <see cref="Change"/>.</summary>
public sealed record Change<T>(ChangeOutcome Outcome, T? Value = null, FieldError? Error = null) where T : class;

public static class Change
{
    public static Change<T> Done<T>(T value) where T : class => new(ChangeOutcome.Done, value);

    public static Change<T> NotFound<T>() where T : class => new(ChangeOutcome.NotFound);

    public static Change<T> Forbidden<T>() where T : class => new(ChangeOutcome.Forbidden);

    public static Change<T> Invalid<T>(FieldError error) where T : class => new(ChangeOutcome.Invalid, Error: error);

    public static Change<T> Invalid<T>(string field, string message) where T : class => Invalid<T>(new FieldError(field, message));

    public static Change<T> Conflict<T>(string field, string message) where T : class => new(ChangeOutcome.Conflict, Error: new FieldError(field, message));
}
