using System.Text.RegularExpressions;
using BuildServer.Modules.Persistence;
using BuildServer.Tests.Infrastructure;

namespace BuildServer.Tests.Architecture;

/// <summary>
/// The module table of docs/architecture.md, enforced: a module may use only the modules listed for it, and
/// never another module's tables (it asks that module's contract instead).
/// </summary>
public sealed partial class ModuleBoundaryTests
{
    /// <summary>Keep in step with the table in docs/architecture.md.</summary>
    private static readonly Dictionary<string, string[]> MayDependOn = new()
    {
        ["Hosting"] = [],
        ["Https"] = ["Hosting"],
        ["Persistence"] = ["Hosting"],
        ["Security"] = ["Hosting", "Persistence"],
        ["Web"] = ["Hosting", "Security"],
        ["Projects"] = ["Hosting", "Persistence", "Security", "Web", "Scheduling"],
        ["Pipelines"] = ["Hosting"],
        ["Scheduling"] = ["Hosting", "Persistence", "Security"],
        ["Runs"] = ["Hosting", "Persistence", "Security", "Web", "Projects", "Pipelines", "Scheduling"],
        ["Executors"] = ["Hosting"],
        ["Runtime"] = ["Hosting", "Pipelines", "Executors"],
        ["Agents"] = ["Hosting", "Https", "Persistence", "Security", "Projects", "Pipelines", "Runs", "Scheduling", "Executors", "Runtime"],
    };

    // The composition root lists every module by design.
    private static readonly string[] CompositionRoot = ["Hosting/BuiltInModules.cs"];

    private static string ModulesRoot => Path.Combine(Repository.Root, "BuildServer.Modules");

    // `using` in C#, `@using` in Razor components (a module's pages count as its code).
    [GeneratedRegex(@"^@?using\s+(?:static\s+)?BuildServer\.Modules\.(\w+)", RegexOptions.Multiline)]
    private static partial Regex ModuleUsing();

    [Test]
    public void EveryModuleFolder_IsInTheTable()
    {
        var folders = Directory.GetDirectories(ModulesRoot).Select(Path.GetFileName)
            .Where(f => f is not ("bin" or "obj" or "wwwroot")).ToList(); // wwwroot: the modules' static web assets

        Assert.That(folders, Is.EquivalentTo(MayDependOn.Keys));
    }

    [Test]
    public void Modules_UseOnlyTheModulesTheTableAllows()
    {
        var violations = new List<string>();
        foreach (var (module, allowed) in MayDependOn)
        {
            foreach (var file in SourceFiles(module))
            {
                var relative = Path.GetRelativePath(ModulesRoot, file).Replace('\\', '/');
                if (CompositionRoot.Contains(relative)) continue;
                foreach (Match use in ModuleUsing().Matches(File.ReadAllText(file)))
                {
                    var target = use.Groups[1].Value;
                    if (target != module && !allowed.Contains(target))
                    {
                        violations.Add($"{relative} uses {target}");
                    }
                }
            }
        }

        Assert.That(violations, Is.Empty);
    }

    [Test]
    public void Modules_NeverQueryAnotherModulesTables()
    {
        using var db = new SqliteDesignTimeFactory().CreateDbContext([]);
        var owners = db.Model.GetEntityTypes().Select(e => e.ClrType)
            .ToDictionary(t => t.Name, t => t.Namespace!.Split('.')[2]);
        var violations = new List<string>();
        foreach (var module in MayDependOn.Keys)
        {
            foreach (var file in SourceFiles(module))
            {
                var text = File.ReadAllText(file);
                foreach (var (entity, owner) in owners.Where(o => o.Value != module))
                {
                    if (Regex.IsMatch(text, $@"\bSet<{entity}>|\bnew {entity}\b"))
                    {
                        violations.Add($"{Path.GetRelativePath(ModulesRoot, file)} touches {owner}'s table {entity}");
                    }
                }
            }
        }

        Assert.That(violations, Is.Empty);
    }

    [Test]
    public void Tables_AreInternalToTheirModule()
    {
        using var db = new SqliteDesignTimeFactory().CreateDbContext([]);

        Assert.That(db.Model.GetEntityTypes().Where(e => e.ClrType.IsPublic).Select(e => e.ClrType.Name), Is.Empty);
    }

    private static IEnumerable<string> SourceFiles(string module) =>
        Directory.EnumerateFiles(Path.Combine(ModulesRoot, module), "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".cs", StringComparison.Ordinal) || f.EndsWith(".razor", StringComparison.Ordinal))
            .Where(f => !f.Contains("/Migrations/", StringComparison.Ordinal));
}
