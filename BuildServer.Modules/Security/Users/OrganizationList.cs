namespace BuildServer.Modules.Security.Users;

/// <summary>An organisation's id and name, as roles refer to it.</summary>
public sealed record OrgName(long Id, string Name);

/// <summary>
/// Every organisation, for giving users roles in them. Organisations belong to the Projects module, which implements
/// this; Security only declares what it needs (as Scheduling declares <c>IRunnerDirectory</c> for the Agents module),
/// because Projects depends on Security and not the other way round. Scoped, read-only.
/// </summary>
public interface IOrganizationList
{
    /// <summary>All organisations, by name.</summary>
    Task<IReadOnlyList<OrgName>> ListAsync(CancellationToken cancellationToken);
}
