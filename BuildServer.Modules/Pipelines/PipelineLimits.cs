namespace BuildServer.Modules.Pipelines;

public static class PipelineLimits
{
    /// <summary>The largest pipeline file accepted, in characters.</summary>
    public const int MaxBytes = 1024 * 1024;
}
