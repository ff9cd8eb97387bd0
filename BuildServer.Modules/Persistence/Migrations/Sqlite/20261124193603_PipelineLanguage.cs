using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace BuildServer.Modules.Persistence.Migrations.Sqlite
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
                type: "TEXT",
                nullable: false,
                defaultValue: "{}");

            migrationBuilder.AlterColumn<string>(
                name: "SpecJson",
                table: "jobs",
                type: "TEXT",
                nullable: true,
                oldClrType: typeof(string),
                oldType: "TEXT");

            migrationBuilder.AddColumn<bool>(
                name: "ContinueOnError",
                table: "jobs",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<bool>(
                name: "FailFast",
                table: "jobs",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<int>(
                name: "MaxParallel",
                table: "jobs",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "NeedsJson",
                table: "jobs",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "Ordinal",
                table: "jobs",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<string>(
                name: "OutputsJson",
                table: "jobs",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "TemplateJson",
                table: "jobs",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "CancelRequestedAt",
                table: "job_attempts",
                type: "TEXT",
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
                type: "TEXT",
                nullable: false,
                defaultValue: "",
                oldClrType: typeof(string),
                oldType: "TEXT",
                oldNullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_jobs_RunId_Key",
                table: "jobs",
                columns: new[] { "RunId", "Key" },
                unique: true);
        }
    }
}
