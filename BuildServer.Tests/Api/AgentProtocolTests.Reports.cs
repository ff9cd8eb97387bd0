using System.Net;
using System.Text;
using BuildServer.Tests.Infrastructure;

namespace BuildServer.Tests.Api;

/// <summary>What an agent reports about its attempt: log chunks, step updates and completions, and their refusals.</summary>
public sealed partial class AgentProtocolTests
{
    // ---- log chunks ----

    [Test]
    public async Task Log_ChunksInOrder_AreStoredExactly_AndAResentChunkIsNotStoredTwice()
    {
        var (agent, _, jobId, attemptId) = await RunningAttemptAsync();
        using var _ = agent;
        var first = AgentApi.Lines("one", "two");
        var second = AgentApi.Lines("three");

        var stored1 = await ChunkOkAsync(agent, attemptId, 1, 0, first);
        var stored2 = await ChunkOkAsync(agent, attemptId, 2, first.Length, second);
        var resent = await ChunkOkAsync(agent, attemptId, 2, first.Length, second, duplicate: true);

        Assert.Multiple(() =>
        {
            Assert.That(stored1["sequence"]!.GetValue<long>(), Is.EqualTo(1));
            Assert.That(stored1["length"]!.GetValue<long>(), Is.EqualTo(first.Length));
            Assert.That(stored2["sequence"]!.GetValue<long>(), Is.EqualTo(2));
            Assert.That(stored2["length"]!.GetValue<long>(), Is.EqualTo(first.Length + second.Length));
            Assert.That(resent["sequence"]!.GetValue<long>(), Is.EqualTo(2));
            Assert.That(resent["length"]!.GetValue<long>(), Is.EqualTo(first.Length + second.Length));
        });
        var log = await _admin.JobLogAsync(jobId);
        Assert.That(log, Is.EqualTo(Encoding.UTF8.GetString([.. first, .. second])));
        Assert.That(ApiClient.Lines(log), Is.EqualTo(new[] { "one", "two", "three" }));
    }

    [Test]
    public async Task Log_OutOfOrderOrAtTheWrongOffset_Returns409WithWhatIsStored()
    {
        var (agent, _, jobId, attemptId) = await RunningAttemptAsync();
        using var _ = agent;
        var first = AgentApi.Lines("one");
        var second = AgentApi.Lines("two");
        await ChunkOkAsync(agent, attemptId, 1, 0, first);
        await ChunkOkAsync(agent, attemptId, 2, first.Length, second);
        var length = first.Length + second.Length;

        var gap = await ExpectReasonAsync(await agent.LogAsync(attemptId, 4, length, AgentApi.Lines("four")), HttpStatusCode.Conflict, "out_of_order");
        var offset = await ExpectReasonAsync(await agent.LogAsync(attemptId, 3, length + 5, AgentApi.Lines("three")), HttpStatusCode.Conflict, "offset_mismatch");
        var behind = await ExpectReasonAsync(await agent.LogAsync(attemptId, 3, first.Length, AgentApi.Lines("three")), HttpStatusCode.Conflict, "offset_mismatch");

        Assert.Multiple(() =>
        {
            foreach (var problem in new[] { gap, offset, behind })
            {
                Assert.That(problem["sequence"]!.GetValue<long>(), Is.EqualTo(2), problem.ToJsonString());
                Assert.That(problem["length"]!.GetValue<long>(), Is.EqualTo(length), problem.ToJsonString());
            }
        });
        Assert.That(ApiClient.Lines(await _admin.JobLogAsync(jobId)), Is.EqualTo(new[] { "one", "two" }));
        await ChunkOkAsync(agent, attemptId, 3, length, AgentApi.Lines("three"));
        Assert.That(ApiClient.Lines(await _admin.JobLogAsync(jobId)), Is.EqualTo(new[] { "one", "two", "three" }));
    }

    [TestCase("2026-11-24T12:00:00.0000000Z no line end", "body")]
    [TestCase("", "body")]
    public async Task Log_NotWholeLines_Returns400NamingTheBody(string body, string field)
    {
        var (agent, _, jobId, attemptId) = await RunningAttemptAsync();
        using var _ = agent;
        await ChunkOkAsync(agent, attemptId, 1, 0, AgentApi.Lines("kept"));

        await ExpectFieldAsync(await agent.LogAsync(attemptId, 2, AgentApi.Lines("kept").Length, Encoding.UTF8.GetBytes(body)), field);

        Assert.That(ApiClient.Lines(await _admin.JobLogAsync(jobId)), Is.EqualTo(new[] { "kept" }));
    }

    [Test]
    public async Task Log_BadSequenceOrOffset_Returns400NamingIt()
    {
        var (agent, _, _, attemptId) = await RunningAttemptAsync();
        using var _ = agent;

        await ExpectFieldAsync(await agent.LogAsync(attemptId, 0, 0, AgentApi.Lines("x")), "sequence");
        await ExpectFieldAsync(await agent.LogAsync(attemptId, 1, -1, AgentApi.Lines("x")), "offset");
        var content = new ByteArrayContent(AgentApi.Lines("x"));
        await ExpectFieldAsync(await agent.Http.PutAsync($"attempts/{attemptId}/log/1", content), "offset");
    }

    [Test]
    public async Task Log_ChunkTooLargeOrPastTheAttemptsLimit_Returns413_AndTheStoredLogStaysIntact()
    {
        var (agent, _, jobId, attemptId) = await RunningAttemptAsync();
        using var _ = agent;
        var first = AgentApi.Lines("first");
        await ChunkOkAsync(agent, attemptId, 1, 0, first);

        var tooLarge = AgentApi.Lines(new string('x', MaxChunk));
        Assert.That(tooLarge, Has.Length.GreaterThan(MaxChunk));
        await ExpectReasonAsync(await agent.LogAsync(attemptId, 2, first.Length, tooLarge), HttpStatusCode.RequestEntityTooLarge, "chunk_too_large");
        // Without a Content-Length (chunked transfer) the server finds out while reading, and still refuses it.
        using (var chunked = new HttpRequestMessage(HttpMethod.Put, $"attempts/{attemptId}/log/2?offset={first.Length}") { Content = new ByteArrayContent(tooLarge) })
        {
            chunked.Headers.TransferEncodingChunked = true;
            await ExpectReasonAsync(await agent.Http.SendAsync(chunked), HttpStatusCode.RequestEntityTooLarge, "chunk_too_large");
        }

        // Chunks under the chunk cap until the attempt's log would pass its cap.
        var block = AgentApi.Lines(new string('y', 900));
        long length = first.Length;
        var sequence = 1L;
        while (length + block.Length <= MaxLog)
        {
            await ChunkOkAsync(agent, attemptId, ++sequence, length, block);
            length += block.Length;
        }
        var limit = await ExpectReasonAsync(await agent.LogAsync(attemptId, sequence + 1, length, block), HttpStatusCode.RequestEntityTooLarge, "log_limit");

        Assert.Multiple(() =>
        {
            Assert.That(limit["sequence"]!.GetValue<long>(), Is.EqualTo(sequence));
            Assert.That(limit["length"]!.GetValue<long>(), Is.EqualTo(length));
        });
        var log = await _admin.JobLogAsync(jobId);
        Assert.That(Encoding.UTF8.GetByteCount(log), Is.EqualTo(length));
        Assert.That(ApiClient.Lines(log), Is.EqualTo(new[] { "first" }.Concat(Enumerable.Repeat(new string('y', 900), (int)sequence - 1))));
    }

    // ---- step updates ----

    [Test]
    public async Task Step_StartedAndFinished_AreShownInTheRun()
    {
        var (agent, runId, _, attemptId) = await RunningAttemptAsync(steps: 2);
        using var _ = agent;

        await ApiClient.Expect(await agent.StepAsync(attemptId, 0, new { state = "started", logOffset = 0 }), HttpStatusCode.NoContent);
        var started = Attempt(await _admin.GetRunAsync(runId), attemptId)["steps"]!.AsArray();
        await ApiClient.Expect(await agent.StepAsync(attemptId, 0, new { state = "finished", logOffset = 0, status = "succeeded", exitCode = 0 }), HttpStatusCode.NoContent);
        await ApiClient.Expect(await agent.StepAsync(attemptId, 1, new { state = "started", logOffset = 0 }), HttpStatusCode.NoContent);
        var later = Attempt(await _admin.GetRunAsync(runId), attemptId)["steps"]!.AsArray();

        Assert.Multiple(() =>
        {
            Assert.That(ApiClient.Status(started[0]!), Is.EqualTo("running"));
            Assert.That(ApiClient.Status(started[1]!), Is.EqualTo("pending"));
            Assert.That(ApiClient.Status(later[0]!), Is.EqualTo("succeeded"));
            Assert.That(later[0]!["exitCode"]!.GetValue<int>(), Is.Zero);
            Assert.That(ApiClient.Status(later[1]!), Is.EqualTo("running"));
        });
    }

    private static IEnumerable<TestCaseData> BadStepUpdates()
    {
        yield return new TestCaseData("{\"state\": \"bogus\", \"logOffset\": 0}", "state").SetName("{m}(unknown state)");
        yield return new TestCaseData("{\"logOffset\": 0}", "state").SetName("{m}(no state)");
        yield return new TestCaseData("{\"state\": \"started\"}", "logOffset").SetName("{m}(no logOffset)");
        yield return new TestCaseData("{\"state\": \"started\", \"logOffset\": -1}", "logOffset").SetName("{m}(negative logOffset)");
        yield return new TestCaseData("{\"state\": \"finished\", \"logOffset\": 0}", "status").SetName("{m}(finished without status)");
        yield return new TestCaseData("{\"state\": \"finished\", \"logOffset\": 0, \"status\": \"running\"}", "status").SetName("{m}(finished as running)");
        yield return new TestCaseData("{", "body").SetName("{m}(malformed JSON)");
        yield return new TestCaseData("{\"state\": ", "state").SetName("{m}(cut off in a value)");
    }

    [TestCaseSource(nameof(BadStepUpdates))]
    public async Task Step_BadUpdate_Returns400NamingTheField(string body, string field)
    {
        var (agent, runId, _, attemptId) = await RunningAttemptAsync();
        using var _ = agent;

        await ExpectFieldAsync(await agent.PostRawAsync($"attempts/{attemptId}/steps/0", body), field);

        Assert.That(ApiClient.Status(Attempt(await _admin.GetRunAsync(runId), attemptId)["steps"]![0]!), Is.EqualTo("pending"));
    }

    [Test]
    public async Task Step_UnknownIndex_Returns404()
    {
        var (agent, _, _, attemptId) = await RunningAttemptAsync();
        using var _ = agent;

        await ProblemAsync(await agent.StepAsync(attemptId, 7, new { state = "started", logOffset = 0 }), HttpStatusCode.NotFound);
    }

    // ---- completion ----

    [Test]
    public async Task Complete_Succeeded_FinishesTheRun_AndAResendChangesNothing()
    {
        var (agent, runId, _, attemptId) = await RunningAttemptAsync();
        using var _ = agent;

        var completed = await ApiClient.ExpectAsync(await agent.CompleteAsync(attemptId, new { status = "succeeded", exitCode = 0 }), HttpStatusCode.OK);
        var run = await _admin.WaitForRunAsync(runId);
        var resent = await ApiClient.ExpectAsync(await agent.CompleteAsync(attemptId, new { status = "succeeded", exitCode = 0 }), HttpStatusCode.OK);

        Assert.Multiple(() =>
        {
            Assert.That(completed["attemptId"]!.GetValue<long>(), Is.EqualTo(attemptId));
            Assert.That(ApiClient.Status(completed), Is.EqualTo("succeeded"));
            Assert.That(completed["duplicate"]!.GetValue<bool>(), Is.False);
            Assert.That(ApiClient.Status(run), Is.EqualTo("succeeded"));
            Assert.That(ApiClient.Status(ApiClient.Job(run, "build")), Is.EqualTo("succeeded"));
            Assert.That(ApiClient.Status(Attempt(run, attemptId)), Is.EqualTo("succeeded"));
            Assert.That(resent["duplicate"]!.GetValue<bool>(), Is.True);
        });
        Assert.That((await _admin.GetRunAsync(runId)).ToJsonString(), Is.EqualTo(run.ToJsonString()), "a re-sent completion changes nothing");
    }

    [Test]
    public async Task Complete_AnotherResultAfterTheAttemptEnded_Returns409Superseded()
    {
        var (agent, runId, _, attemptId) = await RunningAttemptAsync();
        using var _ = agent;
        await ApiClient.Expect(await agent.CompleteAsync(attemptId, new { status = "succeeded" }), HttpStatusCode.OK);
        var run = await _admin.WaitForRunAsync(runId);

        await ExpectReasonAsync(await agent.CompleteAsync(attemptId, new { status = "failed", exitCode = 1 }), HttpStatusCode.Conflict, "superseded");
        await ExpectReasonAsync(await agent.LogAsync(attemptId, 1, 0, AgentApi.Lines("late")), HttpStatusCode.Conflict, "superseded");
        await ExpectReasonAsync(await agent.StepAsync(attemptId, 0, new { state = "started", logOffset = 0 }), HttpStatusCode.Conflict, "superseded");

        Assert.That((await _admin.GetRunAsync(runId)).ToJsonString(), Is.EqualTo(run.ToJsonString()));
    }

    [Test]
    public async Task AnotherAgent_ReportingOnTheAttempt_Gets403AndNothingChanges()
    {
        var (owner, runId, jobId, attemptId) = await RunningAttemptAsync();
        using var _ = owner;
        using var other = await AgentApi.RegisterAsync(_server, [NextName()]);
        await ChunkOkAsync(owner, attemptId, 1, 0, AgentApi.Lines("mine"));
        var before = await _admin.GetRunAsync(runId);

        await ProblemAsync(await other.CompleteAsync(attemptId, new { status = "failed", exitCode = 1 }), HttpStatusCode.Forbidden);
        await ProblemAsync(await other.LogAsync(attemptId, 2, AgentApi.Lines("mine").Length, AgentApi.Lines("forged")), HttpStatusCode.Forbidden);
        await ProblemAsync(await other.StepAsync(attemptId, 0, new { state = "started", logOffset = 0 }), HttpStatusCode.Forbidden);
        var heartbeat = await other.HeartbeatOkAsync(attemptId);

        Assert.That(heartbeat["abandon"]!.AsArray().Select(a => a!.GetValue<long>()), Is.EqualTo(new[] { attemptId }), "not its attempt: abandon it");
        Assert.That((await _admin.GetRunAsync(runId)).ToJsonString(), Is.EqualTo(before.ToJsonString()));
        Assert.That(ApiClient.Lines(await _admin.JobLogAsync(jobId)), Is.EqualTo(new[] { "mine" }));
        await ChunkOkAsync(owner, attemptId, 2, AgentApi.Lines("mine").Length, AgentApi.Lines("still mine"));
        await ApiClient.Expect(await owner.CompleteAsync(attemptId, new { status = "succeeded" }), HttpStatusCode.OK);
        Assert.That(ApiClient.Status(await _admin.WaitForRunAsync(runId)), Is.EqualTo("succeeded"));
    }

    [Test]
    public async Task UnknownAttempt_Returns404()
    {
        using var agent = await AgentApi.RegisterAsync(_server, [NextName()]);
        const long unknown = 987_654_321;

        await ProblemAsync(await agent.CompleteAsync(unknown, new { status = "succeeded" }), HttpStatusCode.NotFound);
        await ProblemAsync(await agent.LogAsync(unknown, 1, 0, AgentApi.Lines("x")), HttpStatusCode.NotFound);
        await ProblemAsync(await agent.StepAsync(unknown, 0, new { state = "started", logOffset = 0 }), HttpStatusCode.NotFound);
    }

    private static IEnumerable<TestCaseData> BadCompletions()
    {
        yield return new TestCaseData("{\"status\": \"running\"}", "status").SetName("{m}(running)");
        yield return new TestCaseData("{\"status\": \"queued\"}", "status").SetName("{m}(queued)");
        yield return new TestCaseData("{\"exitCode\": 0}", "status").SetName("{m}(no status)");
        yield return new TestCaseData("{\"status\": \"bogus\"}", "status").SetName("{m}(unknown status)");
        yield return new TestCaseData("{\"status\": \"succeeded\", \"lastStep\": {\"index\": 0, \"status\": \"running\", \"logEnd\": 0}}", "lastStep")
            .SetName("{m}(last step running)");
        yield return new TestCaseData("{\"status\": \"succeeded\", \"reason\": \"" + new string('r', 4001) + "\"}", "reason").SetName("{m}(reason too long)");
        yield return new TestCaseData("{\"status\": \"succeeded\", \"lastStep\": {\"index\": 0, \"status\": \"succeeded\", \"logEnd\": -1}}", "lastStep")
            .SetName("{m}(last step ends before the log)");
        yield return new TestCaseData("{\"status\": \"succeeded\", \"outputs\": {" + string.Join(",", Enumerable.Range(0, 257).Select(i => $"\"o{i}\": \"v\"")) + "}}", "outputs")
            .SetName("{m}(257 outputs)");
        yield return new TestCaseData("{\"status\": \"succeeded\", \"exitCode\": \"zero\"}", "exitCode").SetName("{m}(exit code not a number)");
        yield return new TestCaseData("{", "body").SetName("{m}(malformed JSON)");
        yield return new TestCaseData("{\"status\": \"succ", "status").SetName("{m}(cut off in a value)");
        yield return new TestCaseData("[1, 2]", "body").SetName("{m}(not an object)");
    }

    [TestCaseSource(nameof(BadCompletions))]
    public async Task Complete_BadInput_Returns400NamingTheField_AndTheAttemptRunsOn(string body, string field)
    {
        var (agent, runId, _, attemptId) = await RunningAttemptAsync();
        using var _ = agent;

        await ExpectFieldAsync(await agent.PostRawAsync($"attempts/{attemptId}/complete", body), field);

        Assert.That(await AttemptStatusAsync(_server, runId, attemptId), Is.EqualTo("running"));
        await ApiClient.Expect(await agent.CompleteAsync(attemptId, new { status = "succeeded" }), HttpStatusCode.OK);
    }

    [Test]
    public async Task Cancel_RunningAttempt_HeartbeatCarriesTheCancel_AndTheCancelledResultEndsTheRun()
    {
        var (agent, runId, _, attemptId) = await RunningAttemptAsync();
        using var _ = agent;

        var cancel = await _admin.Http.PostAsync($"runs/{runId}/cancel", null);
        Assert.That(cancel.IsSuccessStatusCode, Is.True, await cancel.Content.ReadAsStringAsync());
        var heartbeat = await agent.HeartbeatOkAsync(attemptId);
        var completed = await ApiClient.ExpectAsync(await agent.CompleteAsync(attemptId, new { status = "cancelled", reason = "cancelled by the server" }), HttpStatusCode.OK);

        Assert.Multiple(() =>
        {
            Assert.That(heartbeat["cancel"]!.AsArray().Select(a => a!.GetValue<long>()), Is.EqualTo(new[] { attemptId }));
            Assert.That(heartbeat["abandon"]!.AsArray(), Is.Empty);
            Assert.That(completed["duplicate"]!.GetValue<bool>(), Is.False);
        });
        var run = await _admin.WaitForRunAsync(runId);
        Assert.That(ApiClient.Status(run), Is.EqualTo("cancelled"));
        Assert.That(ApiClient.Status(Attempt(run, attemptId)), Is.EqualTo("cancelled"));
    }
}
