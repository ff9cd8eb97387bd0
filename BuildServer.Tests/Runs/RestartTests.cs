using BuildServer.Tests.Infrastructure;

namespace BuildServer.Tests.Runs;

/// <summary>Stopping the server, even with kill -9, loses no work and runs nothing twice.</summary>
[TestFixture(Db.Sqlite)]
[TestFixture(Db.Postgres)]
public sealed class RestartTests(Db db)
{
    [Test]
    public async Task KillMinus9_WithFiveQueuedJobs_EachRunsExactlyOnceAfterRestart()
    {
        await using var server = await ServerProcess.StartAsync(db, "--Agent:Slots=1");
        var sideEffects = Path.Combine(server.DataDir, "side-effects.txt");
        var blockerPid = Path.Combine(server.DataDir, "blocker.pid");
        long blocker, secondBlockerAttempt;
        var queued = new List<long>();
        using (var api = server.Client())
        {
            await api.CreateProjectAsync("p");
            // The one slot is busy with this job, so the five below stay queued.
            blocker = await api.TriggerRunAsync("p", $"jobs:\n  hold:\n    steps: [{{run: 'echo $$ >> {blockerPid}; sleep 600'}}]\n");
            await Eventually.Until(() => File.Exists(blockerPid), TimeSpan.FromSeconds(30), "the blocking job to start");
            for (var i = 0; i < 5; i++)
            {
                queued.Add(await api.TriggerRunAsync("p", $"jobs:\n  once:\n    steps: [{{run: 'echo $BUILDSERVER_RUN_ID >> {sideEffects}'}}]\n"));
            }
            foreach (var id in queued)
            {
                Assert.That(ApiClient.Status(await api.GetRunAsync(id)), Is.EqualTo("queued"));
            }
        }
        var orphan = File.ReadAllText(blockerPid).Trim();

        await server.KillAsync();
        await server.StartAsync();

        using (var api = server.Client())
        {
            foreach (var id in queued)
            {
                Assert.That(ApiClient.Status(await api.WaitForRunAsync(id)), Is.EqualTo("succeeded"));
            }
            var lines = File.ReadAllLines(sideEffects);
            Assert.That(lines.OrderBy(l => l), Is.EqualTo(queued.Select(q => q.ToString()).OrderBy(l => l)), "each job ran exactly once");
            Assert.That(Processes.HasEnded(orphan), "the step left running by the killed server was killed at the restart");

            var hold = ApiClient.Job(await api.GetRunAsync(blocker), "hold");
            var attempts = hold["attempts"]!.AsArray();
            Assert.That(ApiClient.Status(attempts[0]!), Is.EqualTo("lost"));
            Assert.That(attempts[0]!["failureReason"]!.GetValue<string>(), Does.Contain("server stopped"));
            Assert.That(attempts, Has.Count.EqualTo(2), "the lost attempt was retried as a new attempt");
            secondBlockerAttempt = attempts[1]!["id"]!.GetValue<long>();
            await api.Http.PostAsync($"runs/{blocker}/cancel", null);
            var final = await api.WaitForRunAsync(blocker);
            Assert.That(ApiClient.Status(final), Is.EqualTo("cancelled"));
            Assert.That(secondBlockerAttempt, Is.GreaterThan(attempts[0]!["id"]!.GetValue<long>()));
        }
    }

    [Test]
    public async Task Sigterm_WithRunningJob_MarksItLostAndRequeuesItAtStart()
    {
        await using var server = await ServerProcess.StartAsync(db, "--Agent:Slots=1", "--Runs:MaxAttemptsOnLoss=2");
        var starts = Path.Combine(server.DataDir, "starts.txt");
        long runId;
        using (var api = server.Client())
        {
            await api.CreateProjectAsync("p");
            runId = await api.TriggerRunAsync("p", $"jobs:\n  j:\n    steps: [{{run: 'echo start >> {starts}; if [ $(wc -l < {starts}) -lt 2 ]; then sleep 600; fi'}}]\n");
            await Eventually.Until(() => File.Exists(starts), TimeSpan.FromSeconds(30), "the job to start");
        }

        await server.StopAsync();
        await server.StartAsync();

        using (var api = server.Client())
        {
            var run = await api.WaitForRunAsync(runId);
            Assert.That(ApiClient.Status(run), Is.EqualTo("succeeded"));
            var attempts = ApiClient.Job(run, "j")["attempts"]!.AsArray();
            Assert.That(attempts.Select(a => ApiClient.Status(a!)), Is.EqualTo(new[] { "lost", "succeeded" }));
            Assert.That(File.ReadAllLines(starts), Has.Length.EqualTo(2));
        }
    }
}
