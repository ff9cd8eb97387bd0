using System.Net;
using System.Net.Http.Json;
using BuildServer.Tests.Infrastructure;

namespace BuildServer.Tests.Api;

/// <summary>Who may call the agent protocol: the protocol version, and which tokens open it.</summary>
public sealed partial class AgentProtocolTests
{
    [Test]
    public async Task AnotherProtocolVersion_Returns426WithOneLineNamingBoth()
    {
        using var agent = await AgentApi.RegisterAsync(_server, [NextName()]);
        using var request = new HttpRequestMessage(HttpMethod.Post, "acquire?wait=0");
        request.Headers.Add("BuildServer-Agent-Protocol", "99");

        var problem = await ProblemAsync(await agent.Http.SendAsync(request), HttpStatusCode.UpgradeRequired);

        var detail = problem["detail"]!.GetValue<string>();
        Assert.That(detail, Does.Not.Contain('\n'));
        Assert.That(detail, Does.Contain("protocol 1").And.Contain("'99'"));
        using var current = new HttpRequestMessage(HttpMethod.Post, "acquire?wait=0");
        current.Headers.Add("BuildServer-Agent-Protocol", "1");
        Assert.That((await agent.Http.SendAsync(current)).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
    }

    [Test]
    public async Task ApiToken_OnTheAgentProtocol_Returns401()
    {
        using var client = _server.Client();

        await ProblemAsync(await client.Http.PostAsync("agent/acquire?wait=0", null), HttpStatusCode.Unauthorized);
        await ProblemAsync(await client.Http.PostAsJsonAsync("agent/heartbeat", new { running = Array.Empty<long>() }), HttpStatusCode.Unauthorized);
    }

    [Test]
    public async Task AgentToken_OnAnAdminEndpoint_IsRefused()
    {
        using var agent = await AgentApi.RegisterAsync(_server, [NextName()]);
        using var client = _server.Client(agent.Token);

        var list = await client.Http.GetAsync("agents");
        var drain = await client.Http.PostAsync($"agents/{agent.Id}/drain", null);
        var trigger = await client.TriggerAsync("anything", Pipeline("x"));

        Assert.Multiple(() =>
        {
            foreach (var response in new[] { list, drain, trigger })
            {
                Assert.That(response.StatusCode, Is.AnyOf(HttpStatusCode.Unauthorized, HttpStatusCode.Forbidden), response.RequestMessage!.RequestUri!.ToString());
            }
        });
        Assert.That((await ApiClient.ExpectAsync(await _admin.Http.GetAsync($"agents/{agent.Id}"), HttpStatusCode.OK))["draining"]!.GetValue<bool>(), Is.False);
    }

    [TestCase("bsa_forged")]
    [TestCase("bsa_")]
    [TestCase("bsr_not-an-agent-token")]
    public async Task ForgedToken_Returns401(string token)
    {
        using var agent = await AgentApi.RegisterAsync(_server, [NextName()]);
        agent.Http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);

        await ProblemAsync(await agent.AcquireAsync(0), HttpStatusCode.Unauthorized);
        await ProblemAsync(await agent.HeartbeatAsync(), HttpStatusCode.Unauthorized);
    }

    [Test]
    public async Task DisabledAgent_IsRefusedAtItsNextCall()
    {
        var (agent, runId, _, attemptId) = await RunningAttemptAsync();
        using var _ = agent;
        await agent.HeartbeatOkAsync(attemptId);

        await ApiClient.Expect(await _admin.Http.PostAsync($"agents/{agent.Id}/disable", null), HttpStatusCode.OK);

        await ProblemAsync(await agent.HeartbeatAsync(attemptId), HttpStatusCode.Unauthorized);
        await ProblemAsync(await agent.CompleteAsync(attemptId, new { status = "succeeded" }), HttpStatusCode.Unauthorized);
        await ProblemAsync(await agent.AcquireAsync(0), HttpStatusCode.Unauthorized);
        Assert.That(await AttemptStatusAsync(_server, runId, attemptId), Is.EqualTo("running"), "the refused completion changed nothing");
        await ApiClient.Expect(await _admin.Http.PostAsync($"runs/{runId}/cancel", null), HttpStatusCode.OK);
    }
}
