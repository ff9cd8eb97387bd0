using BuildServer.Modules.Web.Components;

namespace BuildServer.Tests.Ui;

public sealed class TimeTextTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    [TestCase(3, "just now")]
    [TestCase(42, "42 s ago")]
    [TestCase(185, "3 min ago")]
    [TestCase(7_300, "2 h ago")]
    [TestCase(3 * 86_400 + 5, "3 d ago")]
    [TestCase(-120, "in 2 min")]
    [TestCase(90 * 86_400, "2026-08-27")]
    public void Relative_SecondsAgo_ReadsAtAGlance(int secondsAgo, string expected) =>
        Assert.That(TimeText.Relative(Now.AddSeconds(-secondsAgo), Now), Is.EqualTo(expected));

    [Test]
    public void Exact_IsUtc_WhateverTheOffset() =>
        Assert.That(TimeText.Exact(new DateTimeOffset(2026, 11, 25, 14, 30, 5, TimeSpan.FromHours(2))), Is.EqualTo("2026-11-25 12:30:05 UTC"));

    [TestCase(850, "850 ms")]
    [TestCase(42_300, "42 s")]
    [TestCase(185_000, "3 m 05 s")]
    [TestCase(7_620_000, "2 h 07 m")]
    public void Duration_Milliseconds_IsShortest(int milliseconds, string expected) =>
        Assert.That(TimeText.Duration(TimeSpan.FromMilliseconds(milliseconds)), Is.EqualTo(expected));
}
