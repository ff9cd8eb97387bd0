using BuildServer.Modules.Pipelines.Workflow;

namespace BuildServer.Tests.Pipelines.Workflow;

public sealed class CronScheduleTests
{
    [TestCase("0 3 * * *")]
    [TestCase("*/15 * * * *")]
    [TestCase("0,30 9-17 * * 1-5")]
    [TestCase("5 4 * * sun")]
    [TestCase("0 0 1 JAN,jul *")]
    [TestCase("0 12 */2 * MON-FRI")]
    [TestCase("10-50/10 0 31 12 6")]
    [TestCase("  0   3 *  * *  ")]
    public void Validate_GitHubCronForms_AreValid(string cron)
    {
        Assert.That(CronSchedule.Validate(cron), Is.Null);
    }

    [TestCase("", "it has 0 fields")]
    [TestCase("0 3 * * * *", "it has 6 fields")]
    [TestCase("0 24 * * *", "the hour field '24' has '24', which is not a number from 0 to 23")]
    [TestCase("0 0 0 * *", "the day of month field '0' has '0', which is not a number from 1 to 31")]
    [TestCase("0 0 * 13 *", "the month field '13' has '13', which is not a name or a number from 1 to 12")]
    [TestCase("0 0 * * 7", "the day of week field '7' has '7', which is not a name or a number from 0 to 6")]
    [TestCase("0 0 * * MON-", "the day of week field 'MON-' has '', which is not a name or a number from 0 to 6")]
    [TestCase("0 0 * * FRI-MON", "the day of week field 'FRI-MON' has the range 'FRI-MON' whose start is after its end")]
    [TestCase("*/x * * * *", "the minute field '*/x' has an invalid step '/x' (a whole number from 1 to 59)")]
    [TestCase("@daily", "it has 1 field;")]
    public void Validate_BadCron_SaysWhichField(string cron, string problem)
    {
        Assert.That(CronSchedule.Validate(cron), Does.StartWith(problem));
    }
}
