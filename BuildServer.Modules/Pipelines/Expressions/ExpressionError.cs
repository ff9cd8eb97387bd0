namespace BuildServer.Modules.Pipelines.Expressions;

/// <summary>A problem in an expression: a sentence for the pipeline author and where it is.</summary>
/// <param name="Message">What is wrong, naming the symbol, function or context involved.</param>
/// <param name="Offset">
/// Zero-based UTF-16 offset of the problem within the text that was parsed: the expression text for
/// <see cref="Expression.Parse"/>, or the whole value (including its <c>${{ }}</c> delimiters) for templates and
/// conditions. The caller adds the position where that text starts in its file.
/// </param>
/// <param name="Length">How many characters the problem spans; 0 at the end of the text.</param>
public sealed record ExpressionError(string Message, int Offset, int Length)
{
    /// <summary>The message and its offset, for logs.</summary>
    public override string ToString() => $"{Message} (at offset {Offset})";
}

/// <summary>
/// The only exception the expression engine throws for bad input: a syntax error while parsing, or a failure while
/// evaluating (a bad <c>format</c> string, invalid JSON for <c>fromJSON</c>, a limit exceeded...).
/// </summary>
public sealed class ExpressionException : Exception
{
    public ExpressionException() : this("The expression is invalid.")
    {
    }

    public ExpressionException(string message) : base(message) => Error = new ExpressionError(message, 0, 0);

    public ExpressionException(string message, Exception innerException) : base(message, innerException) =>
        Error = new ExpressionError(message, 0, 0);

    public ExpressionException(ExpressionError error) : base(error?.Message)
    {
        ArgumentNullException.ThrowIfNull(error);
        Error = error;
        IsLocated = true;
    }

    /// <summary>The message and where in the parsed text it applies.</summary>
    public ExpressionError Error { get; }

    /// <summary>Whether <see cref="Error"/> has a real position; evaluation errors get the position of their node.</summary>
    internal bool IsLocated { get; }

    internal static ExpressionException At(int offset, int length, string message) =>
        new(new ExpressionError(message, offset, length));
}

/// <summary>The engine's caps, so that no input can make parsing or evaluation unbounded.</summary>
internal static class Limits
{
    /// <summary>GitHub's limit for one expression.</summary>
    public const int MaxExpressionLength = 21_000;

    /// <summary>GitHub's limit for the height of an expression tree; also caps bracket nesting.</summary>
    public const int MaxDepth = 50;

    /// <summary>The longest string a function, a conversion or a template may produce, and the longest fromJSON input.</summary>
    public const int MaxStringLength = 1024 * 1024;

    /// <summary>How deep fromJSON input and toJSON output may nest.</summary>
    public const int MaxJsonDepth = 64;

    /// <summary>How many items one object filter (<c>*</c>) may collect.</summary>
    public const int MaxFilterItems = 100_000;

    /// <summary>How many directory entries hashFiles may visit under the workspace.</summary>
    public const int MaxHashFilesEntries = 1_000_000;
}
