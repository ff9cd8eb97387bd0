using static BuildServer.Tests.Pipelines.Workflow.WorkflowHarness;

namespace BuildServer.Tests.Pipelines.Workflow;

/// <summary>Each kind of mistake gives an error at its line and column, with a message a person can act on.</summary>
public sealed class WorkflowErrorTests
{
    [Test]
    public void Parse_UnknownJobKey_SuggestsTheClosestAndListsTheAllowed()
    {
        var error = SingleError(WithJob("runs_on: linux\nsteps: [{ run: x }]"));

        Assert.Multiple(() =>
        {
            Assert.That((error.Line, error.Column, error.Job), Is.EqualTo((4, 5, "build")));
            Assert.That(error.Message, Does.StartWith("Unknown key 'runs_on' in job 'build'. Did you mean 'runs-on'? Allowed keys: name, needs, if, runs-on,"));
        });
    }

    [TestCase("nmae: x\njobs: { a: { steps: [{ run: x }] } }", "1:1: Unknown key 'nmae' in the workflow. Did you mean 'name'?")]
    [TestCase("jobs: { a: { steps: [{ rnu: x }] } }", "1:24: Unknown key 'rnu' in step 1 of job 'a'. Did you mean 'run'?")]
    [TestCase("on: { psh: {} }\njobs: { a: { steps: [{ run: x }] } }", "1:7: Unknown event 'psh' in 'on'. Did you mean 'push'?")]
    [TestCase("on: { push: { branch: [main] } }\njobs: { a: { steps: [{ run: x }] } }", "1:15: Unknown key 'branch' in 'on.push'. Did you mean 'branches'?")]
    [TestCase("on: { pull_request: { tags: [v1] } }\njobs: { a: { steps: [{ run: x }] } }", "1:23: Unknown key 'tags' in 'on.pull_request'.")]
    public void Parse_UnknownKey_IsReportedWhereItIsWritten(string yaml, string expected)
    {
        Assert.That(Errors(yaml), Has.Some.StartWith(expected));
    }

    [TestCase("timeout-minutes: soon", "4:22: 'timeout-minutes' of job 'build' must be a number or an expression, not 'soon'.")]
    [TestCase("timeout-minutes: [1]", "4:22: 'timeout-minutes' of job 'build' must be a number or an expression, not a list.")]
    [TestCase("continue-on-error: maybe", "4:24: 'continue-on-error' of job 'build' must be true, false or an expression, not 'maybe'.")]
    [TestCase("strategy: { max-parallel: 0, matrix: { a: [1] } }", "4:31: 'max-parallel' of 'strategy' of job 'build' must be a whole number of at least 1 or an expression, not '0'.")]
    [TestCase("env: [A]", "4:10: 'env' of job 'build' must be a mapping, not a list.")]
    [TestCase("name: { a: 1 }", "4:11: 'name' of job 'build' must be a string, not a mapping.")]
    [TestCase("priority: urgent", "4:15: 'priority' of job 'build' must be one of critical, high, normal, low, not 'urgent'.")]
    [TestCase("retry: { max-attempts: 11 }", "4:28: 'max-attempts' of 'retry' of job 'build' must be a whole number from 1 to 10, not '11'.")]
    [TestCase("retry: { max-attempts: 2, backoff: linear }", "4:40: 'backoff' of 'retry' of job 'build' must be fixed or exponential, not 'linear'.")]
    [TestCase("retry: { max-attempts: 2, delay: 5 minutes }", "4:38: 'delay' of 'retry' of job 'build' must be a duration like 5s, 2m or 1h30m, not '5 minutes'.")]
    [TestCase("environment: { url: x }", "4:18: 'environment' of job 'build' needs a 'name'.")]
    [TestCase("container: { ports: [80] }", "4:16: 'container' of job 'build' needs an 'image'.")]
    [TestCase("permissions: { contents: admin }", "4:30: 'contents' of 'permissions' of job 'build' must be read, write or none, not 'admin'.")]
    [TestCase("concurrency: { cancel-in-progress: true }", "4:18: 'concurrency' of job 'build' needs a 'group'.")]
    [TestCase("with: { a: b }", "4:5: 'with' of job 'build' is only allowed with 'uses'")]
    public void Parse_WrongTypeInJob_NamesTheKeyAndTheJob(string line, string expected)
    {
        Assert.That(Errors(WithJob(line + "\nsteps: [{ run: x }]")).Single(), Does.StartWith(expected));
    }

    [TestCase("- { run: x, uses: actions/checkout@v4 }", "5:9: Step 1 of job 'build' has both 'run' and 'uses'")]
    [TestCase("- { name: nothing }", "5:9: Step 1 of job 'build' needs 'run' (a command) or 'uses' (an action).")]
    [TestCase("- run: x\n  shell: zsh", "6:16: 'shell' of step 1 of job 'build' must be one of bash, sh, python, pwsh, powershell, cmd or a command template containing '{0}'")]
    [TestCase("- { id: 1st, run: x }", "5:15: Step id '1st' in job 'build' is invalid")]
    [TestCase("- { id: a, run: x }\n- { id: A, run: y }", "6:15: Step id 'A' is used twice in job 'build' (first at line 5)")]
    [TestCase("- { run: x, with: { a: b } }", "5:19: 'with' of step 1 of job 'build' is for 'uses' steps")]
    [TestCase("- uses: dtolnay/rust-toolchain@stable", "5:15: unsupported action 'dtolnay/rust-toolchain@stable'")]
    [TestCase("- uses: docker://alpine:3", "5:15: unsupported action 'docker://alpine:3'")]
    [TestCase("- uses: actions/checkout", "5:15: The action 'actions/checkout' in 'uses' of step 1 of job 'build' needs a version after '@', e.g. 'actions/checkout@v4'.")]
    [TestCase("- parallel:\n    - run: a\n    - run: b", "5:9: 'parallel' step groups (step 1 of job 'build') are not supported yet; give the steps 'background: true'")]
    [TestCase("- { wait: nobody }", "5:17: 'wait' of step 1 of job 'build' names 'nobody', which is not the id of an earlier step of this job.")]
    [TestCase("- run: x\n  timeout-minutes: -1", "6:26: 'timeout-minutes' of step 1 of job 'build' must be a number or an expression, not '-1'.")]
    public void Parse_BadStep_IsReportedAtTheStep(string steps, string expected)
    {
        var yaml = WithJob("steps:\n" + string.Join("\n", steps.Split('\n').Select(l => "  " + l)));

        Assert.That(Errors(yaml).Single(), Does.StartWith(expected));
    }

    [Test]
    public void Parse_ReusableWorkflowFromAnotherRepository_IsUnsupported()
    {
        var error = SingleError("jobs:\n  call:\n    uses: octo/repo/.github/workflows/x.yml@v1\n");

        Assert.That(error.ToString(), Is.EqualTo("3:11: unsupported reusable workflow 'octo/repo/.github/workflows/x.yml@v1' from another repository"));
    }

    [Test]
    public void Parse_ReusableCallWithSteps_SaysTheKeyIsNotAllowed()
    {
        var error = SingleError("jobs:\n  call:\n    uses: ./.github/workflows/x.yml\n    steps: [{ run: x }]\n");

        Assert.That(error.ToString(), Does.StartWith("4:5: Job 'call' calls a reusable workflow ('uses'), so it cannot have 'steps'"));
    }

    [Test]
    public void Parse_JobWithoutSteps_IsReportedAtTheJob()
    {
        Assert.That(Errors("jobs:\n  build:\n    runs-on: linux\n"), Is.EqualTo(new[] { "2:3: Job 'build' has no 'steps' (and no 'uses' calling a reusable workflow)." }));
    }

    [TestCase("jobs:\n  1build: { steps: [{ run: x }] }", "2:3: Job id '1build' is invalid")]
    [TestCase("jobs:\n  a: { needs: b, steps: [{ run: x }] }", "2:15: Job 'a' needs 'b', which is not a job in this workflow.")]
    [TestCase("jobs:\n  a: { needs: [a], steps: [{ run: x }] }", "2:16: Job 'a' needs itself.")]
    [TestCase("jobs:\n  build: { steps: [{ run: x }] }\n  test: { needs: biuld, steps: [{ run: x }] }", "3:18: Job 'test' needs 'biuld', which is not a job in this workflow. Did you mean 'build'?")]
    [TestCase("jobs: {}", "1:1: 'jobs' is empty: a workflow needs at least one job.")]
    [TestCase("jobs: [a]", "1:7: 'jobs' must be a mapping of job ids to jobs, not a list.")]
    [TestCase("on: push", "1:1: The workflow has no 'jobs'")]
    public void Parse_BadJobs_AreReported(string yaml, string expected)
    {
        Assert.That(Errors(yaml).Single(), Does.StartWith(expected));
    }

    [Test]
    public void Parse_NeedsCycle_ShowsThePath()
    {
        var errors = Errors("""
            jobs:
              a: { needs: c, steps: [{ run: x }] }
              b: { needs: a, steps: [{ run: x }] }
              c: { needs: [b], steps: [{ run: x }] }
              d: { needs: [a], steps: [{ run: x }] }
            """);

        Assert.That(errors, Is.EqualTo(new[] { "2:3: The jobs' needs form a cycle: a -> c -> b -> a." }));
    }

    [Test]
    public void Parse_CycleThroughMatrixJobs_IsOneCycleOfJobIds()
    {
        var result = Parse("""
            jobs:
              build:
                needs: test
                strategy: { matrix: { os: [linux, windows], node: [18, 20] } }
                steps: [{ run: x }]
              test:
                needs: build
                strategy: { matrix: { os: [linux, windows] } }
                steps: [{ run: x }]
            """);

        Assert.Multiple(() =>
        {
            Assert.That(result.Errors.Select(e => e.ToString()), Is.EqualTo(new[] { "2:3: The jobs' needs form a cycle: build -> test -> build." }));
            Assert.That(result.Errors[0].Job, Is.EqualTo("build"));
        });
    }

    [Test]
    public void Parse_DuplicateKeys_AreEachReported()
    {
        var errors = Errors("""
            jobs:
              a:
                steps: [{ run: x }]
                steps: [{ run: y }]
              a: { steps: [{ run: z }] }
            """);

        Assert.That(errors, Is.EqualTo(new[]
        {
            "4:5: Duplicate key 'steps' (already at line 3); a key may appear once in a mapping.",
            "5:3: Duplicate key 'a' (already at line 2); a key may appear once in a mapping.",
        }));
    }

    [Test]
    public void Parse_ManyErrors_AreAllReportedInFileOrder()
    {
        var errors = Errors("""
            on: pushh
            jobs:
              a:
                timeout-minutes: x
                steps:
                  - uses: foo/bar@v1
                  - run: echo ${{ matrix. }}
            """);

        Assert.That(errors.Select(e => e.Split(':')[0] + ":" + e.Split(':')[1]), Is.EqualTo(new[] { "1:5", "4:22", "6:15", "7:31" }));
    }

    [TestCase("on: { push: { branches: [a], branches-ignore: [b] } }", "1:30: 'on.push' has both 'branches' and 'branches-ignore'")]
    [TestCase("on: { push: { tags: [a], tags-ignore: [b] } }", "1:26: 'on.push' has both 'tags' and 'tags-ignore'")]
    [TestCase("on: { schedule: [{ cron: '0 3 * *' }] }", "1:27: Invalid cron '0 3 * *': it has 4 fields")]
    [TestCase("on: { schedule: [{ cron: '61 * * * *' }] }", "1:27: Invalid cron '61 * * * *': the minute field '61' has '61', which is not a number from 0 to 59.")]
    [TestCase("on: { schedule: [{ cron: '0 0 * * MOX' }] }", "1:27: Invalid cron '0 0 * * MOX': the day of week field 'MOX' has 'MOX', which is not a name or a number from 0 to 6.")]
    [TestCase("on: { schedule: [{ cron: '*/0 * * * *' }] }", "1:27: Invalid cron '*/0 * * * *': the minute field '*/0' has an invalid step '/0'")]
    [TestCase("on: { schedule: [{ cron: '0 0 10-5 * *' }] }", "1:27: Invalid cron '0 0 10-5 * *': the day of month field '10-5' has the range '10-5' whose start is after its end.")]
    [TestCase("on: { schedule: '0 0 * * *' }", "1:17: 'on.schedule' must be a list")]
    [TestCase("on: { workflow_dispatch: { inputs: { c: { type: choice } } } }", "1:49: Input 'c' of 'on.workflow_dispatch' is a choice and needs 'options'.")]
    [TestCase("on: { workflow_dispatch: { inputs: { c: { type: choice, options: [a, b], default: z } } } }", "1:83: 'default' of input 'c' of 'on.workflow_dispatch' must be one of its options (a, b), not 'z'.")]
    [TestCase("on: { workflow_dispatch: { inputs: { b: { type: boolean, default: yes } } } }", "1:67: 'default' of input 'b' of 'on.workflow_dispatch' must be true or false, not 'yes'.")]
    [TestCase("on: { workflow_dispatch: { inputs: { n: { type: number, default: many } } } }", "1:66: 'default' of input 'n' of 'on.workflow_dispatch' must be a number, not 'many'.")]
    [TestCase("on: { workflow_dispatch: { inputs: { n: { type: text } } } }", "1:49: 'type' of input 'n' of 'on.workflow_dispatch' must be one of string, boolean, number, choice, environment, not 'text'.")]
    [TestCase("on: { workflow_call: { inputs: { n: { required: true } } } }", "1:34: Input 'n' of 'on.workflow_call' needs a 'type' (boolean, number or string).")]
    [TestCase("on: { workflow_call: { inputs: { n: { type: choice } } } }", "1:45: 'type' of input 'n' of 'on.workflow_call' must be one of string, boolean, number, not 'choice'.")]
    [TestCase("on: { workflow_call: { outputs: { o: { description: d } } } }", "1:35: Output 'o' of 'on.workflow_call' needs a 'value'.")]
    [TestCase("on:", "1:4: 'on' is empty: name the events that start the workflow, e.g. 'on: push'.")]
    [TestCase("on: [push, pushh]", "1:12: Unknown event 'pushh' in 'on'. Did you mean 'push'?")]
    [TestCase("on: { release: { types: [published] }, relase: {} }", "1:40: Unknown event 'relase' in 'on'. Did you mean 'release'?")]
    public void Parse_BadTrigger_IsReported(string on, string expected)
    {
        Assert.That(Errors(on + "\njobs: { a: { steps: [{ run: x }] } }").Single(), Does.StartWith(expected));
    }

    [TestCase("matrix: { os: linux }", "5:21: The key 'os' of the matrix of job 'build' must be a list of values or an expression, not a string.")]
    [TestCase("matrix: { include: [a] }", "5:26: 'include' of the matrix of job 'build' must be a list of mappings or an expression.")]
    [TestCase("matrix: { os: [a], exclude: [{ os: a }] }", "5:7: The matrix of job 'build' is invalid: the matrix has no combinations.")]
    [TestCase("matrix: linux", "5:15: The matrix of job 'build' must be a mapping of keys to lists, or an expression")]
    public void Parse_BadMatrix_IsReported(string matrix, string expected)
    {
        var yaml = WithJob("strategy:\n  " + matrix + "\nsteps: [{ run: x }]");

        Assert.That(Errors(yaml).Single(), Does.StartWith(expected));
    }

    [Test]
    public void Parse_MatrixOver256Jobs_IsReportedAtTheMatrixKey()
    {
        var values = "[" + string.Join(", ", Enumerable.Range(1, 17)) + "]";
        var yaml = WithJob($"strategy:\n  matrix:\n    a: {values}\n    b: {values}\nsteps: [{{ run: x }}]");

        Assert.That(Errors(yaml), Is.EqualTo(new[] { "5:7: The matrix of job 'build' is invalid: the matrix expands to 289 combinations, more than the limit of 256." }));
    }

    [Test]
    public void Parse_MatrixWithExpressions_IsNotExpandedAtParseTime()
    {
        var values = "[" + string.Join(", ", Enumerable.Range(1, 17)) + "]";
        var yaml = WithJob($"strategy:\n  matrix:\n    a: {values}\n    b: {values}\n    c: ${{{{ fromJSON(inputs.c) }}}}\nsteps: [{{ run: x }}]");

        Assert.That(Errors(yaml), Is.Empty);
    }
}
