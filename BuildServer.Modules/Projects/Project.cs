using BuildServer.Modules.Scheduling;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Projects;

internal sealed class Organization
{
    public long Id { get; set; }
    public required string Name { get; set; }

    /// <summary>At most this many of its attempts run at once; 0 = no limit.</summary>
    public int MaxRunning { get; set; }

    /// <summary>Its share when organisations compete for the same agents (fair share by running ÷ weight).</summary>
    public double Weight { get; set; } = 1;
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

    /// <summary>The lane of jobs whose workflow names no priority; null = normal.</summary>
    public Lane? DefaultLane { get; set; }

    /// <summary>The highest lane an admin allows this project (a job asking for more gets this one); null = any.</summary>
    public Lane? MaxLane { get; set; }
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
            e.Property(p => p.DefaultLane).HasConversion(Lanes.Column).HasMaxLength(16);
            e.Property(p => p.MaxLane).HasConversion(Lanes.Column).HasMaxLength(16);
            e.HasOne(p => p.Organization).WithMany().HasForeignKey(p => p.OrganizationId).OnDelete(DeleteBehavior.Restrict);
        });
    }
}
