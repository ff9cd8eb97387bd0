using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace BuildServer.Modules.Persistence.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class RunCounters : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "run_counters",
                columns: table => new
                {
                    ProjectId = table.Column<long>(type: "bigint", nullable: false),
                    LastNumber = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_run_counters", x => x.ProjectId);
                });

            // Runs created before this migration keep their numbers: the counters start at each project's highest.
            migrationBuilder.Sql("INSERT INTO run_counters (\"ProjectId\", \"LastNumber\") SELECT \"ProjectId\", MAX(\"Number\") FROM runs GROUP BY \"ProjectId\";");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "run_counters");
        }
    }
}
