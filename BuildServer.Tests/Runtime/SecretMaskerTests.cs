using BuildServer.Modules.Runtime;

namespace BuildServer.Tests.Runtime;

public sealed class SecretMaskerTests
{
    [Test]
    public void Apply_OverlappingValues_MergeIntoOneMask()
    {
        var masker = new SecretMasker();
        masker.Add("abcd");
        masker.Add("cdef");

        Assert.That(masker.Apply("xxabcdefyy abcd"), Is.EqualTo("xx***yy ***"));
    }

    [Test]
    public void Add_WhitespaceOnly_IsIgnored()
    {
        var masker = new SecretMasker();
        masker.Add("  ");
        masker.Add("");

        Assert.That(masker.Apply("a  b"), Is.EqualTo("a  b"));
    }
}
