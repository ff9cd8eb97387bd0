namespace BuildServer.Modules.Scheduling;

/// <summary>The <c>Scheduling</c> section of appsettings.json.</summary>
public sealed class SchedulerOptions
{
    /// <summary>With aging on, an attempt waiting this long moves up one lane (then again after as long), so that
    /// <c>low</c> cannot starve under constant higher-lane load. Null or zero: off (the default).</summary>
    public TimeSpan? AgingStep { get; set; }
}
