using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Projects;

internal sealed class Organization
{
    public long Id { get; set; }
    public required string Name { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

internal sealed class Project
{
    public long Id { get; set; }
    public long OrganizationId { get; set; }
    public Organization? Organization { get; set; }
    public required string Name { get; set; }
    public string? PipelinePath { get; set; }
    public string? RepositoryUrl { get; set; }
    public DateTimeOffset CreatedAt { get; set; }

    public static void Configure(ModelBuilder model)
    {
        model.Entity<Organization>(e =>
        {
            e.ToTable("organizations");
            e.HasIndex(o => o.Name).IsUnique();
            e.Property(o => o.Name).HasMaxLength(100);
        });
        model.Entity<Project>(e =>
        {
            e.ToTable("projects");
            e.HasIndex(p => p.Name).IsUnique();
            e.Property(p => p.Name).HasMaxLength(100);
            e.Property(p => p.PipelinePath).HasMaxLength(1000);
            e.Property(p => p.RepositoryUrl).HasMaxLength(2000);
            e.HasOne(p => p.Organization).WithMany().HasForeignKey(p => p.OrganizationId).OnDelete(DeleteBehavior.Restrict);
        });
    }
}
