using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using BuildServer.Tests.Infrastructure;

namespace BuildServer.Tests.Api;

/// <summary>The users API: list, read, change the server-admin flag and roles, reset a password, remove; the server
/// always keeps a server admin, also when two admins demote each other at the same moment.</summary>
[TestFixture(Db.Sqlite)]
[TestFixture(Db.Postgres)]
public sealed class UsersApiTests(Db db)
{
    private ServerProcess _server = null!;
    private ApiClient _admin = null!;
    private long _acme;
    private int _names;

    [OneTimeSetUp]
    public async Task StartServer()
    {
        _server = await ServerProcess.StartAsync(db, "--Agent:Slots=0");
        _admin = _server.Client();
        _acme = (await ApiClient.ExpectAsync(await _admin.Http.PostAsJsonAsync("orgs", new { name = "acme" }), HttpStatusCode.Created))["id"]!.GetValue<long>();
    }

    [OneTimeTearDown]
    public async Task StopServer()
    {
        _admin.Dispose();
        await _server.DisposeAsync();
    }

    private string NextName() => $"user-{Interlocked.Increment(ref _names)}";

    private async Task<JsonNode> CreateAsync(bool serverAdmin = false, object? roles = null) =>
        await ApiClient.ExpectAsync(await _admin.Http.PostAsJsonAsync("users", new { userName = NextName(), password = "a-password", serverAdmin, roles }),
            HttpStatusCode.Created);

    private async Task<JsonNode> GetAsync(long id) => await ApiClient.ExpectAsync(await _admin.Http.GetAsync($"users/{id}"), HttpStatusCode.OK);

    private static async Task<string> FieldOfAsync(HttpResponseMessage response)
    {
        var problem = await ApiClient.ExpectAsync(response, HttpStatusCode.BadRequest);
        return problem["errors"]!.AsObject().Single().Key;
    }

    [Test]
    public async Task List_ShowsUsersWithTheirRoles_AndNeverAPasswordHash()
    {
        var user = await CreateAsync(roles: new Dictionary<string, string> { [$"{_acme}"] = "viewer" });

        var listed = await _admin.Http.GetStringAsync("users");
        var found = JsonNode.Parse(listed)!.AsArray().Single(u => u!["id"]!.GetValue<long>() == user["id"]!.GetValue<long>())!;

        Assert.That(found["roles"]!.ToJsonString(), Is.EqualTo($$"""{"{{_acme}}":"viewer"}"""));
        Assert.That(found["serverAdmin"]!.GetValue<bool>(), Is.False);
        Assert.That(listed, Does.Not.Contain("AQAAAA"), "no PBKDF2 hash (Identity's hashes start so in base64)");
        Assert.That(listed.ToUpperInvariant(), Does.Not.Contain("PASSWORD"));
    }

    [Test]
    public async Task Patch_SetsAndRemovesRolesAndTheFlag_LeavingOtherOrganisationsAlone()
    {
        var globex = (await ApiClient.ExpectAsync(await _admin.Http.PostAsJsonAsync("orgs", new { name = "globex-" + db }), HttpStatusCode.Created))["id"]!.GetValue<long>();
        var id = (await CreateAsync(roles: new Dictionary<string, string> { [$"{_acme}"] = "viewer", [$"{globex}"] = "member" }))["id"]!.GetValue<long>();

        var changed = await ApiClient.ExpectAsync(await _admin.Http.PatchAsJsonAsync($"users/{id}",
            new { serverAdmin = true, roles = new Dictionary<string, string?> { [$"{_acme}"] = "admin" } }), HttpStatusCode.OK);
        var removed = await ApiClient.ExpectAsync(await _admin.Http.PatchAsJsonAsync($"users/{id}",
            new { roles = new Dictionary<string, string?> { [$"{globex}"] = null } }), HttpStatusCode.OK);

        Assert.That(changed["serverAdmin"]!.GetValue<bool>(), Is.True);
        Assert.That(changed["roles"]!.ToJsonString(), Is.EqualTo($$"""{"{{_acme}}":"admin","{{globex}}":"member"}"""));
        Assert.That(removed["roles"]!.ToJsonString(), Is.EqualTo($$"""{"{{_acme}}":"admin"}"""));
        Assert.That((await GetAsync(id))["serverAdmin"]!.GetValue<bool>(), Is.True, "a PATCH without the flag keeps it");
    }

    [TestCase("""{"roles":{"999999":"member"}}""", "roles")]
    [TestCase("""{"roles":{"acme":"member"}}""", "roles")]
    [TestCase("""{"roles":{"1":"owner"}}""", "roles")]
    [TestCase("""{"serverAdmin":"yes"}""", "serverAdmin")]
    public async Task Patch_WithABadValue_IsRefusedNamingTheField_AndChangesNothing(string body, string field)
    {
        var user = await CreateAsync(roles: new Dictionary<string, string> { [$"{_acme}"] = "viewer" });
        var id = user["id"]!.GetValue<long>();

        var response = await _admin.Http.PatchAsync($"users/{id}", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.That(await FieldOfAsync(response), Is.EqualTo(field));
        Assert.That((await GetAsync(id))["roles"]!.ToJsonString(), Is.EqualTo($$"""{"{{_acme}}":"viewer"}"""));
    }

    [Test]
    public async Task Create_WithRolesInAnOrganisationThatDoesNotExist_IsRefused()
    {
        var response = await _admin.Http.PostAsJsonAsync("users", new { userName = NextName(), password = "a-password", roles = new Dictionary<string, string> { ["424242"] = "viewer" } });

        Assert.That(await FieldOfAsync(response), Is.EqualTo("roles"));
    }

    [Test]
    public async Task Password_Reset_FollowsTheRules_AndUnknownUsersAre404()
    {
        var id = (await CreateAsync())["id"]!.GetValue<long>();

        var tooShort = await _admin.Http.PutAsJsonAsync($"users/{id}/password", new { password = "short" });
        var good = await _admin.Http.PutAsJsonAsync($"users/{id}/password", new { password = "a-new-password" });
        var unknown = await _admin.Http.PutAsJsonAsync("users/999999/password", new { password = "a-new-password" });

        Assert.That(await FieldOfAsync(tooShort), Is.EqualTo("password"));
        await ApiClient.Expect(good, HttpStatusCode.OK);
        await ApiClient.Expect(unknown, HttpStatusCode.NotFound);
    }

    [Test]
    public async Task Delete_RemovesTheUser_AndTheirRoles()
    {
        var id = (await CreateAsync(roles: new Dictionary<string, string> { [$"{_acme}"] = "member" }))["id"]!.GetValue<long>();

        await ApiClient.Expect(await _admin.Http.DeleteAsync($"users/{id}"), HttpStatusCode.NoContent);

        await ApiClient.Expect(await _admin.Http.GetAsync($"users/{id}"), HttpStatusCode.NotFound);
        await ApiClient.Expect(await _admin.Http.DeleteAsync($"users/{id}"), HttpStatusCode.NotFound);
    }

    [Test]
    public async Task ServerAdmins_TheLastOne_KeepsTheFlagAndTheAccount_EvenWhenTwoDemoteEachOtherAtOnce()
    {
        // Every other server admin of this fixture's server gives up the flag first.
        var others = (await ApiClient.ExpectAsync(await _admin.Http.GetAsync("users"), HttpStatusCode.OK)).AsArray()
            .Where(u => u!["serverAdmin"]!.GetValue<bool>()).Select(u => u!["id"]!.GetValue<long>()).ToList();
        var first = (await CreateAsync(serverAdmin: true))["id"]!.GetValue<long>();
        var second = (await CreateAsync(serverAdmin: true))["id"]!.GetValue<long>();
        foreach (var other in others)
        {
            await ApiClient.Expect(await _admin.Http.PatchAsJsonAsync($"users/{other}", new { serverAdmin = false }), HttpStatusCode.OK);
        }

        var race = await Task.WhenAll(
            _admin.Http.PatchAsJsonAsync($"users/{first}", new { serverAdmin = false }),
            _admin.Http.PatchAsJsonAsync($"users/{second}", new { serverAdmin = false }));

        Assert.That(race.Select(r => r.StatusCode), Is.EquivalentTo(new[] { HttpStatusCode.OK, HttpStatusCode.Conflict }));
        var last = race[0].StatusCode == HttpStatusCode.Conflict ? first : second;
        var conflict = await ApiClient.ExpectAsync(race.Single(r => r.StatusCode == HttpStatusCode.Conflict), HttpStatusCode.Conflict);
        Assert.That(conflict["detail"]!.GetValue<string>(), Does.EndWith("is the last server admin: make another user a server admin first."));
        Assert.That((await GetAsync(last))["serverAdmin"]!.GetValue<bool>(), Is.True);
        await ApiClient.Expect(await _admin.Http.DeleteAsync($"users/{last}"), HttpStatusCode.Conflict);
        Assert.That((await GetAsync(last))["serverAdmin"]!.GetValue<bool>(), Is.True);
    }
}
