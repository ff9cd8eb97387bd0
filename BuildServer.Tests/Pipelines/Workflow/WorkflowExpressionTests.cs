using static BuildServer.Tests.Pipelines.Workflow.WorkflowHarness;

namespace BuildServer.Tests.Pipelines.Workflow;

/// <summary>Every <c>${{ }}</c> and <c>if:</c> is parsed with the contexts its key allows, and an error points at
/// the offending character inside the file.</summary>
public sealed class WorkflowExpressionTests
{
    // In WithJob the job's keys start at column 5 of line 4; so "run: " puts the value at column 10 (step lines are deeper).
    [TestCase("name: echo ${{ 1 == }}", "4:25")]
    [TestCase("name: 'it''s ${{ 1 == }}'", "4:27")]
    [TestCase("name: \"say \\\"${{ 1 == }}\"", "4:27")]
    [TestCase("if: github.ref == = 'x'", "4:23")]
    [TestCase("if: ${{ github.ref == }}", "4:27")]
    public void Parse_BadExpressionOnOneLine_PointsInsideTheValue(string line, string position)
    {
        var error = Errors(WithJob(line + "\nsteps: [{ run: x }]")).Single();

        Assert.That(error, Does.StartWith(position + ": Invalid expression in "));
    }

    [Test]
    public void Parse_BadExpressionInLiteralBlock_PointsAtItsLineAndColumn()
    {
        var yaml = WithJob("""
            steps:
              - run: |
                  echo one
                  echo ${{ matrix.os ] }}
            """);

        Assert.That(Errors(yaml).Single(), Does.StartWith("7:30: Invalid expression in 'run' of step 1 of job 'build': Unexpected symbol: ']'"));
    }

    [Test]
    public void Parse_BadExpressionInFoldedBlock_PointsAtItsLineAndColumn()
    {
        var yaml = WithJob("""
            steps:
              - run: >
                  echo one
                  two ${{ matrix.os ] }}
            """);

        Assert.That(Errors(yaml).Single(), Does.StartWith("7:29: Invalid expression in 'run' of step 1 of job 'build'"));
    }

    [Test]
    public void Parse_BadConditionOnSeveralPlainLines_PointsAtItsLineAndColumn()
    {
        var yaml = WithJob("""
            if: github.event_name == 'push' &&
              github.ref == = 'refs/heads/main'
            steps: [{ run: x }]
            """);

        Assert.That(Errors(yaml).Single(), Does.StartWith("5:21: Invalid expression in 'if' of job 'build': Unexpected symbol: '='"));
    }

    [Test]
    public void Parse_BadExpressionInMultiLineDoubleQuotes_PointsAtItsLineAndColumn()
    {
        var yaml = WithJob("""
            name: "a \"quoted\"
              ${{ matrix.os ] }}"
            steps: [{ run: x }]
            """);

        Assert.That(Errors(yaml).Single(), Does.StartWith("5:21: Invalid expression in 'name' of job 'build'"));
    }

    [Test]
    public void Parse_UnclosedExpression_IsReported()
    {
        Assert.That(Errors(WithJob("steps: [{ run: 'echo ${{ github.sha' }]")).Single(), Does.StartWith("4:26: Invalid expression in 'run' of step 1 of job 'build': The expression is not closed"));
    }

    [TestCase("runs-on: ${{ secrets.RUNNER }}", "secrets")]
    [TestCase("name: ${{ steps.a.outputs.b }}", "steps")]
    [TestCase("if: env.A == 'x'", "env")]
    [TestCase("if: matrix.os == 'x'", "matrix")]
    [TestCase("timeout-minutes: ${{ runner.os }}", "runner")]
    [TestCase("strategy: { matrix: { a: ['${{ matrix.b }}'] } }", "matrix")]
    public void Parse_ContextNotAvailableAtJobKey_IsAnError(string line, string context)
    {
        var error = Errors(WithJob(line + "\nsteps: [{ run: x }]")).Single();

        Assert.That(error, Does.Contain($"Unrecognized named-value: '{context}'"));
    }

    [TestCase("env:\n  A: ${{ secrets.TOKEN }}")]
    [TestCase("env:\n  A: ${{ matrix.os }}-${{ needs.a.outputs.x }}")]
    [TestCase("outputs:\n  v: ${{ steps.s.outputs.v }}")]
    [TestCase("if: needs.a.result == 'success' && inputs.go")]
    [TestCase("if: always()")]
    [TestCase("if: ${{ ci.ref == 'refs/heads/main' }}")]
    [TestCase("name: ${{ ci.workflow }} ${{ vars.X }} ${{ strategy.job-index }}")]
    public void Parse_ContextsAvailableAtJobKey_AreAccepted(string lines)
    {
        var yaml = "on: push\njobs:\n  a: { steps: [{ run: x }] }\n  build:\n    needs: a\n" +
            string.Join("\n", lines.Split('\n').Select(l => "    " + l)) + "\n    steps: [{ run: x }]\n";

        Assert.That(Errors(yaml), Is.Empty);
    }

    [Test]
    public void Parse_StatusFunctionOutsideIf_IsAnError()
    {
        Assert.That(Errors(WithJob("name: ${{ success() }}\nsteps: [{ run: x }]")).Single(), Does.Contain("The function 'success' is not available here"));
    }

    [Test]
    public void Parse_HashFilesAtJobLevel_IsAnError()
    {
        Assert.That(Errors(WithJob("if: hashFiles('x') != ''\nsteps: [{ run: x }]")).Single(), Does.StartWith("4:9: Invalid expression in 'if' of job 'build': The function 'hashFiles' is not available here"));
    }

    [Test]
    public void Parse_StepLevelKeys_AllowHashFilesAndStepContexts()
    {
        var yaml = WithJob("""
            steps:
              - id: a
                if: failure() || hashFiles('**/lock') != ''
                run: echo ${{ steps.a.outputs.x }} ${{ runner.os }} ${{ job.status }} ${{ hashFiles('x') }}
                env: { K: "${{ secrets.K }}" }
                with: { k: "${{ env.K }}" }
                timeout-minutes: ${{ matrix.t }}
                continue-on-error: ${{ matrix.experimental }}
                working-directory: ${{ github.workspace }}
            """).Replace("with: { k:", "shell: bash\n        # with", StringComparison.Ordinal);

        Assert.That(Errors(yaml), Is.Empty);
    }

    [Test]
    public void Parse_WorkflowLevelKeys_AllowOnlyTheirContexts()
    {
        var errors = Errors("""
            run-name: ${{ matrix.os }}
            env: { A: "${{ secrets.A }}" }
            concurrency: ${{ secrets.A }}
            jobs: { a: { steps: [{ run: x }] } }
            """);

        Assert.That(errors.Select(e => e[..4]), Is.EqualTo(new[] { "1:15", "3:18" }));
    }

    [Test]
    public void Parse_ExpressionErrorInReusableWorkflowOutput_UsesTheJobsContext()
    {
        var yaml = "on: { workflow_call: { outputs: { o: { value: \"${{ jobs.a.outputs.x }}\" }, p: { value: \"${{ steps.a.outputs.x }}\" } } } }\njobs: { a: { steps: [{ run: x }] } }";

        Assert.That(Errors(yaml).Single(), Does.Contain("Unrecognized named-value: 'steps'"));
    }
}
