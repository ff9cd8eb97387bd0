using System.CommandLine;
using BuildServer.Modules.Pipelines.Workflow;

namespace BuildServer;

internal static class ValidateCommand
{
    public static Command Create()
    {
        var files = new Argument<string[]>("file") { Description = "Workflow files (.buildserver.yml, .github/workflows/*.yml).", Arity = ArgumentArity.OneOrMore };
        var command = new Command("validate", "Check workflow files: every error as file:line:col: message. Exit code 0 when all are valid.") { files };
        command.SetAction(result =>
        {
            var parser = WorkflowFiles.CreateParser();
            var valid = true;
            foreach (var file in result.GetValue(files) ?? [])
            {
                var text = WorkflowFiles.Read(file, out var error);
                if (text is null)
                {
                    Console.Error.WriteLine($"{file}:{(error!.StartsWith("1:1:", StringComparison.Ordinal) ? "" : " ")}{error}");
                    valid = false;
                    continue;
                }
                var parsed = parser.Parse(text);
                foreach (var e in parsed.Errors)
                {
                    Console.Error.WriteLine($"{file}:{e}");
                }
                if (parsed.IsValid)
                {
                    Console.WriteLine($"{file}: ok ({parsed.Workflow!.Jobs.Count} job(s))");
                }
                else
                {
                    valid = false;
                }
            }
            return valid ? 0 : 1;
        });
        return command;
    }
}
