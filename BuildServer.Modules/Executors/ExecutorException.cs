namespace BuildServer.Modules.Executors;

/// <summary>An executor cannot run the job as asked (an unsupported option, a missing image, a limit above the
/// agent's); the message is the reason a person reads in the job's log and outcome.</summary>
public sealed class ExecutorException : Exception
{
    public ExecutorException()
    {
    }

    public ExecutorException(string message)
        : base(message)
    {
    }

    public ExecutorException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
