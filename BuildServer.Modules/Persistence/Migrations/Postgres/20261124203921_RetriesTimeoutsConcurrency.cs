using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace BuildServer.Modules.Persistence.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class RetriesTimeoutsConcurrency : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "ConcurrencyGroup",
                table: "runs",
                type: "character varying(400)",
                maxLength: 400,
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "TimeoutMinutes",
                table: "jobs",
                type: "double precision",
                nullable: false,
                defaultValue: 360.0); // existing jobs: the default timeout

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "NotBefore",
                table: "job_attempts",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "TimeoutAt",
                table: "job_attempts",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_runs_ProjectId_ConcurrencyGroup_Status",
                table: "runs",
                columns: new[] { "ProjectId", "ConcurrencyGroup", "Status" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_runs_ProjectId_ConcurrencyGroup_Status",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "ConcurrencyGroup",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "TimeoutMinutes",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "NotBefore",
                table: "job_attempts");

            migrationBuilder.DropColumn(
                name: "TimeoutAt",
                table: "job_attempts");
        }
    }
}
