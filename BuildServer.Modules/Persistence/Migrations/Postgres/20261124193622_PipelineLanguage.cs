using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace BuildServer.Modules.Persistence.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class PipelineLanguage : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_jobs_RunId_Key",
                table: "jobs");

            migrationBuilder.AddColumn<string>(
                name: "ContextJson",
                table: "runs",
                type: "text",
                nullable: false,
                defaultValue: "{}");

            migrationBuilder.AlterColumn<string>(
                name: "SpecJson",
                table: "jobs",
                type: "text",
                nullable: true,
                oldClrType: typeof(string),
                oldType: "text");

            migrationBuilder.AddColumn<bool>(
                name: "ContinueOnError",
                table: "jobs",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<bool>(
                name: "FailFast",
                table: "jobs",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<int>(
                name: "MaxParallel",
                table: "jobs",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "NeedsJson",
                table: "jobs",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "Ordinal",
                table: "jobs",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<string>(
                name: "OutputsJson",
                table: "jobs",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "TemplateJson",
                table: "jobs",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "CancelRequestedAt",
                table: "job_attempts",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_jobs_RunId_Key_Ordinal",
                table: "jobs",
                columns: new[] { "RunId", "Key", "Ordinal" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_jobs_RunId_Key_Ordinal",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "ContextJson",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "ContinueOnError",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "FailFast",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "MaxParallel",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "NeedsJson",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "Ordinal",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "OutputsJson",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "TemplateJson",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "CancelRequestedAt",
                table: "job_attempts");

            migrationBuilder.AlterColumn<string>(
                name: "SpecJson",
                table: "jobs",
                type: "text",
                nullable: false,
                defaultValue: "",
                oldClrType: typeof(string),
                oldType: "text",
                oldNullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_jobs_RunId_Key",
                table: "jobs",
                columns: new[] { "RunId", "Key" },
                unique: true);
        }
    }
}
