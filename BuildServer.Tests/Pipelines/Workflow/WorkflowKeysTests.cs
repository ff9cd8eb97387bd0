using System.Text.Json.Nodes;
using BuildServer.Modules.Pipelines.Workflow;
using static BuildServer.Tests.Pipelines.Workflow.WorkflowHarness;

namespace BuildServer.Tests.Pipelines.Workflow;

/// <summary>Each key of the workflow syntax, in its valid forms, lands in the model.</summary>
public sealed class WorkflowKeysTests
{
    [Test]
    public void Parse_TopLevelKeys_AreRead()
    {
        var workflow = Valid("""
            name: ci
            run-name: Deploy by @${{ github.actor }}
            on: push
            env: { CONFIGURATION: Release, LEVEL: 3 }
            defaults: { run: { shell: bash, working-directory: src } }
            concurrency: ci-${{ github.ref }}
            permissions: { contents: read, id-token: write }
            priority: high
            jobs:
              build: { steps: [{ run: make }] }
            """);

        Assert.Multiple(() =>
        {
            Assert.That(workflow.Name, Is.EqualTo("ci"));
            Assert.That(workflow.RunName!.Text, Is.EqualTo("Deploy by @${{ github.actor }}"));
            Assert.That(workflow.RunName.Pos, Is.EqualTo(new SourcePos(2, 11)));
            Assert.That(workflow.Env["LEVEL"].Text, Is.EqualTo("3"));
            Assert.That((workflow.Defaults!.Shell!.Pos, workflow.Defaults.WorkingDirectory!.Pos), Is.EqualTo((new SourcePos(5, 27), new SourcePos(5, 52))));
            Assert.That(workflow.Concurrency!.Group.Text, Is.EqualTo("ci-${{ github.ref }}"));
            Assert.That(workflow.Concurrency.CancelInProgress, Is.Null);
            Assert.That(workflow.Permissions!.ToJsonString(), Is.EqualTo("""{"contents":"read","id-token":"write"}"""));
            Assert.That(workflow.Priority, Is.EqualTo(Priority.High));
            Assert.That(workflow.Jobs.Single().Id, Is.EqualTo("build"));
        });
    }

    [TestCase("permissions: read-all", "\"read-all\"")]
    [TestCase("permissions: write-all", "\"write-all\"")]
    [TestCase("permissions: {}", "{}")]
    public void Parse_PermissionsShorthands_AreKept(string line, string json)
    {
        var workflow = Valid(line + "\njobs: { a: { steps: [{ run: x }] } }");

        Assert.That(workflow.Permissions!.ToJsonString(), Is.EqualTo(json));
    }

    [Test]
    public void Parse_ConcurrencyMapping_ReadsGroupAndCancelInProgress()
    {
        var workflow = Valid("concurrency: { group: g, cancel-in-progress: \"${{ github.ref != 'refs/heads/main' }}\" }\njobs: { a: { steps: [{ run: x }] } }");

        Assert.That(workflow.Concurrency!.CancelInProgress!.Text, Is.EqualTo("${{ github.ref != 'refs/heads/main' }}"));
    }

    [Test]
    public void Parse_OnAsStringListOrMapping_NamesTheEvents()
    {
        var asString = Valid("on: pull_request\njobs: { a: { steps: [{ run: x }] } }").On;
        var asList = Valid("on: [push, release]\njobs: { a: { steps: [{ run: x }] } }").On;

        Assert.Multiple(() =>
        {
            Assert.That(asString.PullRequest, Is.Not.Null);
            Assert.That(asString.Push, Is.Null);
            Assert.That(asList.Push, Is.Not.Null);
            Assert.That(asList.Other.Keys, Is.EqualTo(new[] { "release" }));
        });
    }

    [Test]
    public void Parse_RefTriggers_KeepTheirFilters()
    {
        var on = Valid("""
            on:
              push:
                branches: [main, 'releases/**']
                tags: v*
                paths-ignore: [docs/**]
              pull_request:
                types: [opened, synchronize]
                branches-ignore: [wip/*]
              pull_request_target:
              merge_group:
                types: [checks_requested]
              workflow_run:
                workflows: [ci]
                types: [completed]
            jobs: { a: { steps: [{ run: x }] } }
            """).On;

        Assert.Multiple(() =>
        {
            Assert.That(on.Push!.Branches, Is.EqualTo(new[] { "main", "releases/**" }));
            Assert.That(on.Push.Tags, Is.EqualTo(new[] { "v*" }));
            Assert.That(on.Push.PathsIgnore, Is.EqualTo(new[] { "docs/**" }));
            Assert.That(on.PullRequest!.Types, Is.EqualTo(new[] { "opened", "synchronize" }));
            Assert.That(on.PullRequest.BranchesIgnore, Is.EqualTo(new[] { "wip/*" }));
            Assert.That(on.PullRequestTarget, Is.Not.Null);
            Assert.That(on.Other["merge_group"]!.ToJsonString(), Is.EqualTo("""{"types":["checks_requested"]}"""));
            Assert.That(on.Other["workflow_run"]!["workflows"]!.ToJsonString(), Is.EqualTo("""["ci"]"""));
        });
    }

    [Test]
    public void Parse_Schedule_KeepsEachCronWithItsPosition()
    {
        var on = Valid("""
            on:
              schedule:
                - cron: "*/15 * * * *"
                - cron: 0 3 * JAN-MAR MON-FRI
            jobs: { a: { steps: [{ run: x }] } }
            """).On;

        Assert.That(on.Schedule, Is.EqualTo(new[] { new ScheduleTrigger("*/15 * * * *", new SourcePos(3, 14)), new ScheduleTrigger("0 3 * JAN-MAR MON-FRI", new SourcePos(4, 13)) }));
    }

    [Test]
    public void Parse_WorkflowDispatchInputs_AreTyped()
    {
        var dispatch = Valid("""
            on:
              workflow_dispatch:
                inputs:
                  level: { type: choice, options: [info, debug], default: debug, required: true, description: Log level }
                  dry-run: { type: boolean, default: True }
                  count: { type: number, default: 3 }
                  target: { type: environment }
                  note: {}
            jobs: { a: { steps: [{ run: x }] } }
            """).On.WorkflowDispatch!;

        Assert.Multiple(() =>
        {
            Assert.That(dispatch.Inputs["level"], Is.EqualTo(dispatch.Inputs["level"] with { Type = InputType.Choice, Default = "debug", Required = true, Description = "Log level" }));
            Assert.That(dispatch.Inputs["level"].Options, Is.EqualTo(new[] { "info", "debug" }));
            Assert.That(dispatch.Inputs["dry-run"].Default, Is.EqualTo("true"));
            Assert.That(dispatch.Inputs["count"].Type, Is.EqualTo(InputType.Number));
            Assert.That(dispatch.Inputs["target"].Type, Is.EqualTo(InputType.Environment));
            Assert.That(dispatch.Inputs["note"].Type, Is.EqualTo(InputType.String));
        });
    }

    [Test]
    public void Parse_WorkflowCall_ReadsInputsOutputsAndSecrets()
    {
        var call = Valid("""
            on:
              workflow_call:
                inputs:
                  config: { type: string, required: true }
                outputs:
                  version: { description: v, value: "${{ jobs.a.outputs.version }}" }
                secrets:
                  token: { required: true }
                  other:
            jobs: { a: { steps: [{ run: x }] } }
            """).On.WorkflowCall!;

        Assert.Multiple(() =>
        {
            Assert.That(call.Inputs["config"].Required, Is.True);
            Assert.That(call.Outputs["version"].Text, Is.EqualTo("${{ jobs.a.outputs.version }}"));
            Assert.That(call.Secrets, Is.EqualTo(new[] { "token", "other" }));
        });
    }

    [Test]
    public void Parse_JobKeys_AreRead()
    {
        var job = Valid(WithJob("""
            name: Build ${{ matrix.os }}
            needs: setup
            if: github.event_name == 'push'
            runs-on: ${{ matrix.os }}
            environment: { name: production, url: "${{ steps.deploy.outputs.url }}" }
            concurrency: { group: "build-${{ matrix.os }}", cancel-in-progress: true }
            outputs: { version: "${{ steps.v.outputs.version }}" }
            env: { A: "1" }
            defaults: { run: { shell: "bash -e {0}" } }
            timeout-minutes: ${{ matrix.t }}
            continue-on-error: ${{ matrix.experimental }}
            container: { image: "node:20", env: { NODE_ENV: test }, ports: [80], volumes: [/data], options: --cpus 1, credentials: { username: u, password: "${{ secrets.P }}" } }
            services: { redis: "redis:7", db: { image: postgres } }
            strategy: { matrix: { os: [linux, windows], t: [10] }, fail-fast: false, max-parallel: 2 }
            permissions: { contents: write }
            priority: critical
            retry: { max-attempts: 3, backoff: exponential, delay: 1h30m, jitter: 5s }
            steps: [{ run: make }]
            """) + "  setup: { steps: [{ run: x }] }\n").Jobs[0];

        Assert.Multiple(() =>
        {
            Assert.That(job.Pos, Is.EqualTo(new SourcePos(3, 3)));
            Assert.That(job.Name!.Text, Is.EqualTo("Build ${{ matrix.os }}"));
            Assert.That(job.Needs, Is.EqualTo(new[] { "setup" }));
            Assert.That(job.If!.Text, Is.EqualTo("github.event_name == 'push'"));
            Assert.That(job.RunsOn!.ToJsonString(), Is.EqualTo("\"${{ matrix.os }}\""));
            Assert.That(job.Environment!.Url!.Text, Is.EqualTo("${{ steps.deploy.outputs.url }}"));
            Assert.That(job.Concurrency!.CancelInProgress!.Text, Is.EqualTo("true"));
            Assert.That(job.Outputs["version"].Text, Is.EqualTo("${{ steps.v.outputs.version }}"));
            Assert.That(job.Env["A"].Text, Is.EqualTo("1"));
            Assert.That(job.Defaults!.Shell!.Text, Is.EqualTo("bash -e {0}"));
            Assert.That(job.TimeoutMinutes!.Text, Is.EqualTo("${{ matrix.t }}"));
            Assert.That(job.ContinueOnError!.Text, Is.EqualTo("${{ matrix.experimental }}"));
            Assert.That(job.Container!.Image.Text, Is.EqualTo("node:20"));
            Assert.That(job.Container.Ports.Single().Text, Is.EqualTo("80"));
            Assert.That(job.Container.Credentials!["password"]!.GetValue<string>(), Is.EqualTo("${{ secrets.P }}"));
            Assert.That(job.Services.Keys, Is.EqualTo(new[] { "redis", "db" }));
            Assert.That(job.Services["redis"].Image.Text, Is.EqualTo("redis:7"));
            Assert.That(job.Strategy!.Matrix!.ToJsonString(), Is.EqualTo("""{"os":["linux","windows"],"t":[10]}"""));
            Assert.That(job.Strategy.FailFast!.Text, Is.EqualTo("false"));
            Assert.That(job.Strategy.MaxParallel!.Text, Is.EqualTo("2"));
            Assert.That(job.Priority, Is.EqualTo(Priority.Critical));
            Assert.That(job.Retry, Is.EqualTo(new RetryPolicy(3, Backoff.Exponential, TimeSpan.FromMinutes(90), TimeSpan.FromSeconds(5))));
            Assert.That(job.Permissions!.ToJsonString(), Is.EqualTo("""{"contents":"write"}"""));
        });
    }

    [TestCase("runs-on: [self-hosted, linux]", """["self-hosted","linux"]""")]
    [TestCase("runs-on: { group: big, labels: [linux, x64] }", """{"group":"big","labels":["linux","x64"]}""")]
    [TestCase("runs-on: { group: big, labels: linux }", """{"group":"big","labels":["linux"]}""")]
    public void Parse_RunsOnForms_AreKeptAsJson(string line, string json)
    {
        var job = Valid(WithJob(line + "\nsteps: [{ run: x }]")).Jobs[0];

        Assert.That(job.RunsOn!.ToJsonString(), Is.EqualTo(json));
    }

    [Test]
    public void Parse_MatrixAsOneExpression_IsKeptAsItsText()
    {
        var workflow = Valid("""
            jobs:
              setup: { outputs: { m: "${{ steps.s.outputs.m }}" }, steps: [{ id: s, run: x }] }
              build:
                needs: setup
                strategy: { matrix: "${{ fromJSON(needs.setup.outputs.m) }}" }
                steps: [{ run: x }]
            """);

        var strategy = workflow.Jobs[1].Strategy!;
        Assert.Multiple(() =>
        {
            Assert.That(strategy.Matrix!.GetValue<string>(), Is.EqualTo("${{ fromJSON(needs.setup.outputs.m) }}"));
            Assert.That(strategy.MatrixPos, Is.EqualTo(new SourcePos(5, 26)));
        });
    }

    [Test]
    public void Parse_MatrixValues_AreTypedByYaml()
    {
        var job = Valid(WithJob("strategy:\n  matrix:\n    python: [3.10, '3.11']\n    flag: [true]\n    nothing: [~]\n    include: [{ python: '3.12', extra: { a: 1 } }]\nsteps: [{ run: x }]")).Jobs[0];

        Assert.That(job.Strategy!.Matrix!.ToJsonString(), Is.EqualTo("""{"python":[3.1,"3.11"],"flag":[true],"nothing":[null],"include":[{"python":"3.12","extra":{"a":1}}]}"""));
    }

    [Test]
    public void Parse_ReusableWorkflowInThisRepository_IsACall()
    {
        var job = Valid("""
            jobs:
              call:
                uses: ./.github/workflows/build.yml
                with: { config: release }
                secrets: inherit
                needs: []
            """).Jobs[0];

        Assert.Multiple(() =>
        {
            Assert.That(job.Uses!.Path, Is.EqualTo("./.github/workflows/build.yml"));
            Assert.That(job.Uses.Pos, Is.EqualTo(new SourcePos(3, 11)));
            Assert.That(job.Uses.With["config"].Text, Is.EqualTo("release"));
            Assert.That(job.Uses.InheritSecrets, Is.True);
            Assert.That(job.Steps, Is.Empty);
        });
    }

    [Test]
    public void Parse_ReusableCallWithSecretsMapping_KeepsThem()
    {
        var job = Valid("jobs:\n  call:\n    uses: ./.github/workflows/b.yaml\n    secrets: { token: \"${{ secrets.T }}\" }\n").Jobs[0];

        Assert.That(job.Uses!.Secrets["token"].Text, Is.EqualTo("${{ secrets.T }}"));
    }

    [Test]
    public void Parse_StepKeys_AreRead()
    {
        var steps = Valid(WithJob("""
            steps:
              - uses: actions/checkout@v4
                with: { fetch-depth: 0 }
              - id: test_1
                name: Test ${{ matrix.os }}
                if: ${{ success() && hashFiles('**/*.csproj') != '' }}
                run: |
                  dotnet test
                shell: pwsh
                working-directory: src
                env: { X: y }
                continue-on-error: true
                timeout-minutes: 5
              - uses: ./tools/action
              - uses: ACTIONS/Cache/Restore@main
            """)).Jobs[0].Steps;

        Assert.Multiple(() =>
        {
            Assert.That((steps[0].Index, steps[0].Uses, steps[0].Kind, steps[0].With["fetch-depth"].Text), Is.EqualTo((0, "actions/checkout@v4", "checkout", "0")));
            Assert.That(steps[0].Pos, Is.EqualTo(new SourcePos(5, 9)));
            Assert.That(steps[1].Id, Is.EqualTo("test_1"));
            Assert.That(steps[1].Name!.Text, Is.EqualTo("Test ${{ matrix.os }}"));
            Assert.That(steps[1].If!.Text, Is.EqualTo("${{ success() && hashFiles('**/*.csproj') != '' }}"));
            Assert.That(steps[1].Run!.Text, Is.EqualTo("dotnet test\n"));
            Assert.That(steps[1].Run!.Pos, Is.EqualTo(new SourcePos(11, 11)));
            Assert.That(steps[1].Shell!.Text, Is.EqualTo("pwsh"));
            Assert.That(steps[1].WorkingDirectory!.Text, Is.EqualTo("src"));
            Assert.That(steps[1].Env["X"].Text, Is.EqualTo("y"));
            Assert.That(steps[1].ContinueOnError!.Text, Is.EqualTo("true"));
            Assert.That(steps[1].TimeoutMinutes!.Text, Is.EqualTo("5"));
            Assert.That(steps[2].Kind, Is.EqualTo("local-action"));
            Assert.That(steps[3].Kind, Is.EqualTo("cache-restore"));
        });
    }

    [Test]
    public void Parse_BackgroundSteps_AreRead()
    {
        var steps = Valid(WithJob("""
            steps:
              - { id: server, run: ./serve, background: true }
              - { run: ./test }
              - { wait: server }
              - { id: other, run: ./x, background: true }
              - { wait-all: true }
              - { cancel: other }
            """)).Jobs[0].Steps;

        Assert.Multiple(() =>
        {
            Assert.That(steps[0].Background!.Text, Is.EqualTo("true"));
            Assert.That(steps[2].Wait, Is.EqualTo(new[] { "server" }));
            Assert.That(steps[4].WaitAll, Is.True);
            Assert.That(steps[5].Cancel, Is.EqualTo("other"));
        });
    }

    [Test]
    public void Parse_AnchorsAndMergeKeys_AreExpanded()
    {
        var jobs = Valid("""
            x-defaults: &defaults
            jobs:
              a: &job
                runs-on: &os [linux]
                env: &env { A: "1", B: "2" }
                steps: [{ run: x }]
              b:
                <<: *job
                env:
                  <<: *env
                  B: "3"
            """.Replace("x-defaults: &defaults\n", "", StringComparison.Ordinal)).Jobs;

        Assert.Multiple(() =>
        {
            Assert.That(jobs[1].RunsOn!.ToJsonString(), Is.EqualTo("""["linux"]"""));
            Assert.That(jobs[1].Env.ToDictionary(e => e.Key, e => e.Value.Text), Is.EqualTo(new Dictionary<string, string> { ["A"] = "1", ["B"] = "3" }));
            Assert.That(jobs[1].Steps, Has.Count.EqualTo(1));
        });
    }

    [Test]
    public void Parse_WorkflowJobAndStep_RoundTripThroughJson()
    {
        var workflow = Valid(WithJob("strategy: { matrix: { a: [1] } }\nsteps: [{ run: x }]"));

        var json = System.Text.Json.JsonSerializer.Serialize(workflow.Jobs[0]);
        var back = System.Text.Json.JsonSerializer.Deserialize<WorkflowJob>(json)!;

        Assert.That(back.Steps[0].Run, Is.EqualTo(workflow.Jobs[0].Steps[0].Run));
    }

    [Test]
    public void Parse_ValidFile_HasNoErrorsAndAJob()
    {
        var result = Parse(WithJob("steps: [{ run: x }]"));

        Assert.That((result.IsValid, result.Workflow!.Jobs[0].Steps[0].Run!.Text), Is.EqualTo((true, "x")));
        Assert.That(JsonNode.Parse("1"), Is.Not.Null);
    }
}
