using BuildServer.Modules.Security.Ui;
using BuildServer.Modules.Security.Users;

namespace BuildServer.Tests.Ui;

public sealed class AccountRulesTests
{
    [TestCase("/", "/")]
    [TestCase("/runs/4?tab=log", "/runs/4?tab=log")]
    [TestCase(null, "/")]
    [TestCase("https://evil.example/", "/")]
    [TestCase("//evil.example/", "/")]
    [TestCase("/\\evil.example/", "/")]
    [TestCase("runs", "/")]
    public void ReturnUrl_AfterSignIn_StaysOnThisSite(string? asked, string expected) =>
        Assert.That(ReturnUrls.Safe(asked), Is.EqualTo(expected));

    [TestCase(OrgRole.Viewer, OrgRole.Viewer, true)]
    [TestCase(OrgRole.Viewer, OrgRole.Member, false)]
    [TestCase(OrgRole.Member, OrgRole.Viewer, true)]
    [TestCase(OrgRole.Member, OrgRole.Admin, false)]
    [TestCase(OrgRole.Admin, OrgRole.Member, true)]
    public void Allows_ARoleInTheOrg_IncludesTheRolesBelowIt(OrgRole has, OrgRole needed, bool allowed)
    {
        var access = new UserAccess(false, new Dictionary<long, OrgRole> { [7] = has });

        Assert.That(access.Allows(7, needed), Is.EqualTo(allowed));
        Assert.That(access.Allows(8, OrgRole.Viewer), Is.False);
    }

    [Test]
    public void Allows_AServerAdmin_EverythingInEveryOrg()
    {
        var admin = new UserAccess(true, new Dictionary<long, OrgRole>());

        Assert.That(admin.Allows(99, OrgRole.Admin), Is.True);
        Assert.That(admin.VisibleOrgs, Is.Null);
    }

    [TestCase("alice", true)]
    [TestCase("mia.k@acme-corp", true)]
    [TestCase("-admin", false)]
    [TestCase("", false)]
    [TestCase("has space", false)]
    public void IsUserName_FollowsTheRule(string name, bool valid) =>
        Assert.That(AccountRules.IsUserName(name), Is.EqualTo(valid));
}
