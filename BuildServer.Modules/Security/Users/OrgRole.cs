namespace BuildServer.Modules.Security.Users;

/// <summary>A user's role in an organisation; each includes the ones below it.</summary>
public enum OrgRole
{
    /// <summary>Reads runs, logs and queues.</summary>
    Viewer = 1,
    /// <summary>Also triggers, cancels and re-runs.</summary>
    Member = 2,
    /// <summary>Also changes the organisation's projects, settings and members.</summary>
    Admin = 3,
}

public static class OrgRoles
{
    public static string ToWire(this OrgRole role) => role.ToString().ToLowerInvariant();

    public static OrgRole FromWire(string value) =>
        TryFromWire(value, out var role) ? role : throw new FormatException($"'{value}' is not a role.");

    public static bool TryFromWire(string? value, out OrgRole role)
    {
        role = default;
        var match = Enum.GetValues<OrgRole>().Where(r => r.ToWire() == value).ToList();
        if (match.Count != 1) return false;
        role = match[0];
        return true;
    }

    public static string WireWords => string.Join(", ", Enum.GetValues<OrgRole>().Select(r => r.ToWire()));
}
