using BuildServer.Modules.Runs.Logs;
using BuildServer.Modules.Runs.Ui.Log;

namespace BuildServer.Tests.Runs;

public sealed class AnsiParserTests
{
    private const string E = "\x1b";

    private static (string Text, AnsiStyle Style)[] Runs(AnsiText parsed) =>
        parsed.Runs.Select(r => (parsed.Text.Substring(r.Start, r.Length), r.Style)).ToArray();

    private static AnsiStyle Fg(int named) => new(AnsiColor.Named(named), AnsiColor.Default, AnsiFlags.None);

    [Test]
    public void Parse_PlainText_IsOneUnstyledText()
    {
        var parsed = AnsiParser.Parse("hello\tworld");

        Assert.That(parsed.Text, Is.EqualTo("hello\tworld"));
        Assert.That(parsed.Runs, Is.Empty);
    }

    [Test]
    public void Parse_ColourAndReset_StylesOnlyTheTextBetween()
    {
        var parsed = AnsiParser.Parse($"{E}[31merror{E}[0m: plain");

        Assert.That(parsed.Text, Is.EqualTo("error: plain"));
        Assert.That(Runs(parsed), Is.EqualTo(new[] { ("error", Fg(1)) }));
    }

    [Test]
    public void Parse_BoldItalicUnderline_AddUp_AndTheirResetsTakeOneAway()
    {
        var parsed = AnsiParser.Parse($"{E}[1ma{E}[3mb{E}[4mc{E}[22md{E}[23;24me");

        Assert.That(parsed.Text, Is.EqualTo("abcde"));
        Assert.That(Runs(parsed), Is.EqualTo(new[]
        {
            ("a", new AnsiStyle(AnsiColor.Default, AnsiColor.Default, AnsiFlags.Bold)),
            ("b", new AnsiStyle(AnsiColor.Default, AnsiColor.Default, AnsiFlags.Bold | AnsiFlags.Italic)),
            ("c", new AnsiStyle(AnsiColor.Default, AnsiColor.Default, AnsiFlags.Bold | AnsiFlags.Italic | AnsiFlags.Underline)),
            ("d", new AnsiStyle(AnsiColor.Default, AnsiColor.Default, AnsiFlags.Italic | AnsiFlags.Underline)),
        }));
    }

    [Test]
    public void Parse_BrightAndBackgroundColours_AndTheirDefaults()
    {
        var parsed = AnsiParser.Parse($"{E}[92;44mx{E}[39my{E}[49mz");

        Assert.That(Runs(parsed), Is.EqualTo(new[]
        {
            ("x", new AnsiStyle(AnsiColor.Named(10), AnsiColor.Named(4), AnsiFlags.None)),
            ("y", new AnsiStyle(AnsiColor.Default, AnsiColor.Named(4), AnsiFlags.None)),
        }));
        Assert.That(parsed.Text, Is.EqualTo("xyz"));
    }

    [TestCase("38;5;196", 0xff0000)]
    [TestCase("38;5;21", 0x0000ff)]
    [TestCase("38;5;244", 0x808080)]
    [TestCase("38;2;18;52;86", 0x123456)]
    [TestCase("38:2::18:52:86", 0x123456)]
    [TestCase("38:2:18:52:86", 0x123456)]
    [TestCase("38:5:196", 0xff0000)]
    public void Parse_256AndTrueColourForegrounds_BecomeRgb(string sgr, int rgb)
    {
        var parsed = AnsiParser.Parse($"{E}[{sgr}mx");

        Assert.That(parsed.Runs.Single().Style.Foreground.IsRgb, Is.True);
        Assert.That(parsed.Runs.Single().Style.Foreground.Rgb, Is.EqualTo(rgb));
    }

    [Test]
    public void Parse_256ColourBelow16_IsANamedColour_AndABackgroundWorksTheSame()
    {
        var parsed = AnsiParser.Parse($"{E}[38;5;9;48;2;1;2;3mx");

        Assert.That(parsed.Runs.Single().Style, Is.EqualTo(new AnsiStyle(AnsiColor.Named(9), AnsiColor.FromRgb(1, 2, 3), AnsiFlags.None)));
    }

    [Test]
    public void Parse_OtherEscapeSequences_AreDropped()
    {
        var parsed = AnsiParser.Parse($"{E}[2K{E}[1A{E}]0;title\a{E}]8;;https://example.com{E}\\link{E}]8;;{E}\\{E}(B{E}=done{E}[?25l");

        Assert.That(parsed.Text, Is.EqualTo("linkdone"));
        Assert.That(parsed.Runs, Is.Empty);
    }

    [Test]
    public void Parse_ControlCharacters_AreDropped_AndACutShortSequenceTakesTheRest()
    {
        Assert.That(AnsiParser.Parse("a\u0007b\u0000c").Text, Is.EqualTo("abc"));
        Assert.That(AnsiParser.Parse($"text{E}[31").Text, Is.EqualTo("text"));
        Assert.That(AnsiParser.Parse($"text{E}").Text, Is.EqualTo("text"));
    }

    [Test]
    public void Parse_CarriageReturn_ShowsTheLastStateOfTheLine_WithItsStyle()
    {
        var parsed = AnsiParser.Parse($"{E}[32m 10%\r 50%\r100%{E}[0m done\r");

        Assert.That(parsed.Text, Is.EqualTo("100% done"));
        Assert.That(Runs(parsed), Is.EqualTo(new[] { ("100%", Fg(2)) }));
    }

    [Test]
    public void Parse_Inverse_IsAFlag_AndTheCssSwapsTheColours()
    {
        var parsed = AnsiParser.Parse($"{E}[7;31mx");
        var style = parsed.Runs.Single().Style;

        Assert.That(style.Flags, Is.EqualTo(AnsiFlags.Inverse));
        Assert.That(AnsiCss.Class(style), Is.EqualTo("bs-b1 bs-inv-f"));
    }

    [Test]
    public void Parse_LongerThanAllowed_IsCut()
    {
        var parsed = AnsiParser.Parse($"{E}[1m" + new string('x', 50), maxChars: 10);

        Assert.That(parsed.Text, Is.EqualTo(new string('x', 10)));
        Assert.That(parsed.Cut, Is.True);
    }

    [Test]
    public void Css_OfColoursAndFlags()
    {
        var style = new AnsiStyle(AnsiColor.FromRgb(255, 135, 0), AnsiColor.Named(4), AnsiFlags.Bold | AnsiFlags.Underline);

        Assert.That(AnsiCss.Class(style), Is.EqualTo("bs-fx bs-b4 bs-bold bs-ul"));
        Assert.That(AnsiCss.Style(style), Is.EqualTo("--bs-fx:#ff8700;"));
        Assert.That(AnsiCss.Class(AnsiStyle.Plain), Is.Null);
    }

    [Test]
    public void LinePieces_CutAtStylesAndSearchMatches()
    {
        var parsed = AnsiParser.Parse($"an {E}[31mError here{E}[0m and error");

        var pieces = LinePieces.Of(parsed, "ERROR");

        Assert.That(pieces.Select(p => (p.Text, p.Class, p.Marked)), Is.EqualTo(new (string, string?, bool)[]
        {
            ("an ", null, false), ("Error", "bs-f1", true), (" here", "bs-f1", false), (" and ", null, false), ("error", null, true),
        }));
    }
}
