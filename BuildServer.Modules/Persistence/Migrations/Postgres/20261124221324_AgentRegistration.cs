using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace BuildServer.Modules.Persistence.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class AgentRegistration : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<bool>(
                name: "Disabled",
                table: "runners",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<bool>(
                name: "Draining",
                table: "runners",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<long>(
                name: "OrgId",
                table: "runners",
                type: "bigint",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "TokenHash",
                table: "runners",
                type: "character varying(64)",
                maxLength: 64,
                nullable: true);

            migrationBuilder.CreateTable(
                name: "registration_tokens",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    Hash = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    Prefix = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    OrgId = table.Column<long>(type: "bigint", nullable: true),
                    Reusable = table.Column<bool>(type: "boolean", nullable: false),
                    ExpiresAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    RevokedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    UsedCount = table.Column<int>(type: "integer", nullable: false),
                    LastUsedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_registration_tokens", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_runners_TokenHash",
                table: "runners",
                column: "TokenHash",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_registration_tokens_Hash",
                table: "registration_tokens",
                column: "Hash",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "registration_tokens");

            migrationBuilder.DropIndex(
                name: "IX_runners_TokenHash",
                table: "runners");

            migrationBuilder.DropColumn(
                name: "Disabled",
                table: "runners");

            migrationBuilder.DropColumn(
                name: "Draining",
                table: "runners");

            migrationBuilder.DropColumn(
                name: "OrgId",
                table: "runners");

            migrationBuilder.DropColumn(
                name: "TokenHash",
                table: "runners");
        }
    }
}
