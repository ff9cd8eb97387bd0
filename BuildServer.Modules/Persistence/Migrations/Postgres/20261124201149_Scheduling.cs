using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace BuildServer.Modules.Persistence.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class Scheduling : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "OrgId",
                table: "runs",
                type: "bigint",
                nullable: false,
                defaultValue: 0L);

            // Existing runs belong to their project's organisation.
            migrationBuilder.Sql("UPDATE runs SET \"OrgId\" = (SELECT \"OrganizationId\" FROM projects WHERE projects.\"Id\" = runs.\"ProjectId\")");

            migrationBuilder.AddColumn<string>(
                name: "DefaultLane",
                table: "projects",
                type: "character varying(16)",
                maxLength: 16,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "MaxLane",
                table: "projects",
                type: "character varying(16)",
                maxLength: 16,
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "MaxRunning",
                table: "organizations",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<double>(
                name: "Weight",
                table: "organizations",
                type: "double precision",
                nullable: false,
                defaultValue: 1.0);

            migrationBuilder.AddColumn<string>(
                name: "Lane",
                table: "jobs",
                type: "character varying(16)",
                maxLength: 16,
                nullable: false,
                defaultValue: "normal");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "OrgId",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "DefaultLane",
                table: "projects");

            migrationBuilder.DropColumn(
                name: "MaxLane",
                table: "projects");

            migrationBuilder.DropColumn(
                name: "MaxRunning",
                table: "organizations");

            migrationBuilder.DropColumn(
                name: "Weight",
                table: "organizations");

            migrationBuilder.DropColumn(
                name: "Lane",
                table: "jobs");
        }
    }
}
