namespace BuildServer.Modules.Runs.Logs;

[Flags]
internal enum AnsiFlags : byte
{
    None = 0,
    Bold = 1,
    Dim = 2,
    Italic = 4,
    Underline = 8,
    Inverse = 16,
    Strike = 32,
}

/// <summary>A terminal colour: the default, one of the 16 named ones (0–7, bright 8–15), or RGB (the 256-colour indexes
/// past 15 are turned into their RGB values).</summary>
internal readonly record struct AnsiColor(int Value)
{
    private const int RgbFlag = 1 << 24;
    private static readonly int[] CubeLevels = [0, 95, 135, 175, 215, 255];

    public static readonly AnsiColor Default = new(-1);

    public bool IsDefault => Value < 0;

    public bool IsNamed => Value is >= 0 and < 16;

    public bool IsRgb => Value >= RgbFlag;

    /// <summary>0xRRGGBB for an RGB colour.</summary>
    public int Rgb => Value & 0xFFFFFF;

    public static AnsiColor Named(int index) => new(Math.Clamp(index, 0, 15));

    public static AnsiColor FromRgb(int r, int g, int b) =>
        new(RgbFlag | (Math.Clamp(r, 0, 255) << 16) | (Math.Clamp(g, 0, 255) << 8) | Math.Clamp(b, 0, 255));

    /// <summary>xterm's 256 colours: 16 named, a 6×6×6 cube, 24 greys.</summary>
    public static AnsiColor From256(int index) => index switch
    {
        < 0 or > 255 => Default,
        < 16 => Named(index),
        < 232 => FromRgb(CubeLevels[(index - 16) / 36], CubeLevels[(index - 16) / 6 % 6], CubeLevels[(index - 16) % 6]),
        _ => FromRgb(8 + 10 * (index - 232), 8 + 10 * (index - 232), 8 + 10 * (index - 232)),
    };
}

internal readonly record struct AnsiStyle(AnsiColor Foreground, AnsiColor Background, AnsiFlags Flags)
{
    public static readonly AnsiStyle Plain = new(AnsiColor.Default, AnsiColor.Default, AnsiFlags.None);

    public bool IsPlain => this == Plain;
}

/// <summary><see cref="Length"/> characters of a line's text from <see cref="Start"/>, in one style.</summary>
internal readonly record struct AnsiRun(int Start, int Length, AnsiStyle Style);

/// <summary>A log line's text as shown (escape sequences and control characters taken out) and its styled runs, in
/// order and not overlapping; text outside every run is plain. <see cref="Cut"/>: the text was longer than allowed.</summary>
internal sealed record AnsiText(string Text, IReadOnlyList<AnsiRun> Runs, bool Cut)
{
    public static readonly AnsiText Empty = new("", [], false);
}
