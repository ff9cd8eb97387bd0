using System.Globalization;
using BuildServer.Modules.Projects;

namespace BuildServer.Modules.Agents;

/// <summary>Names the organisations of agents and registration tokens (the ids are stored; the API shows names).</summary>
internal sealed class AgentOrgNames(IOrganizationDirectory orgs)
{
    public async Task<Dictionary<long, string>> NamesAsync(IEnumerable<long?> ids, CancellationToken ct)
    {
        var names = new Dictionary<long, string>();
        foreach (var id in ids.OfType<long>().Distinct())
        {
            if (await orgs.FindAsync(id.ToString(CultureInfo.InvariantCulture), ct) is { } org) names[id] = org.Name;
        }
        return names;
    }

    public async Task<string?> NameAsync(long? id, CancellationToken ct) => Name(await NamesAsync([id], ct), id);

    public static string? Name(Dictionary<long, string> names, long? id) =>
        id is { } known && names.TryGetValue(known, out var name) ? name : null;
}
