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

    /// <summary>
    /// kill -9 in the middle of a burst (some jobs running, many queued), then a restart on the same data: every job
    /// ends succeeded, none runs twice to its end, nothing is left queued or running. Each job's step writes a marker
    /// (run, job, attempt) as its last act. A step the killed server left running has lost its output pipe: its
    /// <c>echo</c> before the marker fails and <c>bash -e</c> ends it, and the restart kills what is left of it. Its
    /// attempt is declared lost and retried once (Runs:MaxAttemptsOnLoss = 2).
    /// </summary>
    [Test]
    public async Task KillMinus9_MidBurst_EveryJobSucceedsAndNoneRunsTwiceToItsEnd()
    {
        const int runs = 10, jobsPerRun = 15;
        await using var server = await ServerProcess.StartAsync(db, "--Agent:Slots=4", "--Runs:MaxAttemptsOnLoss=2");
        var markers = Path.Combine(server.DataDir, "markers.txt");
        var yaml = new System.Text.StringBuilder("jobs:\n");
        for (var j = 0; j < jobsPerRun; j++)
        {
            yaml.Append($"  j{j}:\n    steps: [{{run: 'sleep 0.2; echo finishing; echo \"$BUILDSERVER_RUN_ID $GITHUB_JOB $BUILDSERVER_ATTEMPT\" >> {markers}'}}]\n");
        }
        var ids = new List<long>();
        string[] atKill;
        using (var api = server.Client())
        {
            await api.CreateProjectAsync("p");
            for (var i = 0; i < runs; i++)
            {
                ids.Add(await api.TriggerRunAsync("p", yaml.ToString()));
            }
            await Eventually.Until(() => File.Exists(markers) && File.ReadAllLines(markers).Length >= 20, TimeSpan.FromSeconds(60), "some jobs to finish");
            await server.KillAsync();
            atKill = File.ReadAllLines(markers);
        }
        var doneAtKill = atKill.Length;
        Assert.That(doneAtKill, Is.LessThan(runs * jobsPerRun / 2), "killed mid-burst, with many jobs still queued");

        await server.StartAsync();

        var attempts = new List<(string Job, int Number, string Status)>();
        using (var api = server.Client())
        {
            foreach (var id in ids)
            {
                var run = await api.WaitForRunAsync(id, TimeSpan.FromSeconds(120));
                Assert.That(ApiClient.Status(run), Is.EqualTo("succeeded"), $"run {id}");
                foreach (var job in run["jobs"]!.AsArray())
                {
                    var key = $"{id} {job!["key"]!.GetValue<string>()}";
                    attempts.AddRange(job["attempts"]!.AsArray().Select(a => (key, a!["number"]!.GetValue<int>(), ApiClient.Status(a))));
                }
            }
        }
        var lines = File.ReadAllLines(markers);
        var byJob = attempts.GroupBy(a => a.Job).ToList();
        var lost = attempts.Where(a => a.Status == "lost").ToList();
        TestContext.Out.WriteLine($"{db}: killed with {doneAtKill} of {runs * jobsPerRun} jobs done; {lost.Count} attempt(s) lost and retried; " +
                                  $"{lost.Count(l => lines.Contains($"{l.Job} {l.Number}"))} of them had written their marker before the kill");
        Assert.Multiple(async () =>
        {
            Assert.That(byJob, Has.Count.EqualTo(runs * jobsPerRun), "every job is there");
            Assert.That(byJob.Where(j => j.Count(a => a.Status == "succeeded") != 1).Select(j => j.Key), Is.Empty, "every job succeeded exactly once");
            Assert.That(byJob.Where(j => j.OrderBy(a => a.Number).SkipLast(1).Any(a => a.Status != "lost")).Select(j => j.Key), Is.Empty,
                "only lost attempts were retried");
            Assert.That(byJob.Where(j => j.Count() > 2).Select(j => j.Key), Is.Empty, "at most one retry (one kill)");
            Assert.That(lines, Is.Unique, "no attempt ran to its end twice");
            // A lost attempt may have written its marker in the moment between its step's end and the record of it
            // (the kill then comes before the server learned): that is the one case where a job's end shows twice.
            Assert.That(lost.Select(l => $"{l.Job} {l.Number}").Intersect(lines).Except(atKill), Is.Empty,
                "no step left behind by the killed server reached its end afterwards");
            var succeeded = attempts.Where(a => a.Status == "succeeded").Select(a => $"{a.Job} {a.Number}").ToList();
            Assert.That(succeeded.Where(s => lines.Count(l => l == s) != 1), Is.Empty, "each succeeded attempt's marker appears exactly once");
            Assert.That(lines.Except(attempts.Select(a => $"{a.Job} {a.Number}")), Is.Empty, "no marker of an attempt the server does not know");
            Assert.That(await DatabaseRows.CountAsync(server, "job_attempts", "\"Status\" IN ('queued', 'running')"), Is.Zero, "nothing left queued or running");
        });
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
