using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using BuildServer.Modules.Pipelines.Planning;

namespace BuildServer.Modules.Pipelines.Workflow;

internal sealed partial class WorkflowReader
{
    private static readonly string[] EnvironmentKeys = ["name", "url", "deployment"];
    private static readonly string[] ContainerKeys = ["image", "env", "ports", "volumes", "options", "credentials"];
    private static readonly string[] CredentialKeys = ["username", "password"];
    private static readonly string[] StrategyKeys = ["matrix", "fail-fast", "max-parallel"];
    private static readonly string[] RetryKeys = ["max-attempts", "backoff", "delay", "jitter"];
    private static readonly string[] Backoffs = ["fixed", "exponential"];

    [GeneratedRegex(@"^(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,9})s)?$")]
    private static partial Regex DurationPattern();

    private EnvironmentSpec? ReadEnvironment(YNode node, string what)
    {
        if (node is YScalar) return Template(node, what, ExpressionScopes.Job) is { } name ? new EnvironmentSpec(name, null) : null;
        Template? nameTemplate = null, url = null, deployment = null;
        foreach (var (key, _, value) in Entries(node, what, EnvironmentKeys))
        {
            switch (key)
            {
                case "name": nameTemplate = Template(value, $"'name' of {what}", ExpressionScopes.Job); break;
                case "url": url = Template(value, $"'url' of {what}", ExpressionScopes.EnvironmentUrl); break;
                default: deployment = Boolean(value, $"'deployment' of {what}", ExpressionScopes.Job); break;
            }
        }
        if (node is YMapping && !HasKey(node, "name")) Error(node, $"{Capitalized(what)} needs a 'name'.");
        return nameTemplate is null ? null : new EnvironmentSpec(nameTemplate, url, deployment);
    }

    private ContainerSpec? ReadContainer(YNode node, string what)
    {
        if (node is YScalar)
        {
            var image = Template(node, what, ExpressionScopes.Job);
            if (image is { Text.Length: 0 }) Error(node, $"{Capitalized(what)} needs an image.");
            return image is null ? null : new ContainerSpec(image, new Dictionary<string, Template>(), [], [], null, null);
        }
        Template? imageTemplate = null, options = null;
        IReadOnlyDictionary<string, Template> env = new Dictionary<string, Template>();
        List<Template> ports = [], volumes = [];
        JsonNode? credentials = null;
        foreach (var (key, _, value) in Entries(node, what, ContainerKeys))
        {
            var where = $"'{key}' of {what}";
            switch (key)
            {
                case "image": imageTemplate = Template(value, where, ExpressionScopes.Job); break;
                case "env": env = TemplateMap(value, where, ExpressionScopes.ContainerEnv, envNames: true); break;
                case "ports": ports = TemplateList(value, where); break;
                case "volumes": volumes = TemplateList(value, where); break;
                case "options": options = Template(value, where, ExpressionScopes.Job); break;
                case "credentials":
                    var map = new JsonObject();
                    foreach (var (field, _, fieldValue) in Entries(value, where, CredentialKeys))
                    {
                        if (Template(fieldValue, $"'{field}' of {where}", ExpressionScopes.Credentials) is { } t) map[field] = t.Text;
                    }
                    credentials = map;
                    break;
            }
        }
        if (node is YMapping && !HasKey(node, "image")) Error(node, $"{Capitalized(what)} needs an 'image'.");
        return imageTemplate is null ? null : new ContainerSpec(imageTemplate, env, ports, volumes, options, credentials);
    }

    private List<Template> TemplateList(YNode node, string what) =>
        StringList(node, what).Select(s => Template(s, $"an item of {what}", ExpressionScopes.Job)!).ToList();

    private Dictionary<string, ContainerSpec> ReadServices(YNode node, string what)
    {
        var services = new Dictionary<string, ContainerSpec>(StringComparer.Ordinal);
        foreach (var (name, _, value) in Entries(node, what, null))
        {
            if (ReadContainer(value, $"service '{name}' of {what}") is { } service) services[name] = service;
        }
        return services;
    }

    /// <param name="job">"job 'id'", for messages.</param>
    private StrategySpec? ReadStrategy(YNode node, string job)
    {
        var what = $"'strategy' of {job}";
        JsonNode? matrix = null;
        var matrixPos = Pos(node);
        Template? failFast = null, maxParallel = null;
        foreach (var (key, keyNode, value) in Entries(node, what, StrategyKeys))
        {
            var where = $"'{key}' of {what}";
            switch (key)
            {
                case "matrix":
                    matrixPos = TextPos(value);
                    matrix = ReadMatrix(keyNode, value, $"the matrix of {job}");
                    break;
                case "fail-fast": failFast = Boolean(value, where, ExpressionScopes.Strategy); break;
                case "max-parallel": maxParallel = Number(value, where, ExpressionScopes.Strategy, whole: true, min: 1); break;
            }
        }
        return new StrategySpec(matrix, matrixPos, failFast, maxParallel);
    }

    /// <summary>A mapping of keys to lists (plus include/exclude), or one expression for the whole matrix. A matrix
    /// without expressions is expanded now, so that "empty" and "too many jobs" are reported at parse time.</summary>
    private JsonNode? ReadMatrix(YNode keyNode, YNode node, string what)
    {
        if (node is YScalar scalar)
        {
            if (!Expressions.ExpressionTemplate.ContainsExpression(scalar.Value))
            {
                Error(node, $"{Capitalized(what)} must be a mapping of keys to lists, or an expression such as '${{{{ fromJSON(needs.setup.outputs.matrix) }}}}'.");
                return null;
            }
            return Template(node, what, ExpressionScopes.Strategy) is { } whole ? JsonValue.Create(whole.Text) : null;
        }
        if (node is not YMapping mapping)
        {
            Error(node, $"{Capitalized(what)} must be a mapping of keys to lists, not {node.Kind}.");
            return null;
        }
        var valid = true;
        foreach (var (key, value) in mapping.Entries)
        {
            var isExpression = value is YScalar s && Expressions.ExpressionTemplate.ContainsExpression(s.Value);
            var listOk = value is YSequence sequence && (key is not YScalar { Value: "include" or "exclude" } || sequence.Items.All(i => i is YMapping));
            if (!isExpression && !listOk)
            {
                var name = key is YScalar k ? k.Value : "?";
                Error(value is YScalar { IsNull: true } ? key : value, name is "include" or "exclude"
                    ? $"'{name}' of {what} must be a list of mappings or an expression."
                    : $"The key '{name}' of {what} must be a list of values or an expression, not {value.Kind}.");
                valid = false;
            }
        }
        var json = Json(node, what, ExpressionScopes.Strategy);
        if (valid && json is JsonObject matrix && !HasExpressions(node))
        {
            var expanded = MatrixExpansion.Expand(matrix, WorkflowLimits.MaxMatrixCombinations);
            if (expanded.Error is { } error) Error(keyNode, $"{Capitalized(what)} is invalid: {error}.");
        }
        return json;
    }

    private RetryPolicy? ReadRetry(YNode node, string what)
    {
        int? attempts = null;
        var backoff = Backoff.Fixed;
        TimeSpan delay = TimeSpan.Zero, jitter = TimeSpan.Zero;
        foreach (var (key, _, value) in Entries(node, what, RetryKeys, nullIsEmpty: false))
        {
            var where = $"'{key}' of {what}";
            if (Text(value, where) is not { } text) continue;
            switch (key)
            {
                case "max-attempts":
                    if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 10) attempts = n;
                    else Error(value, $"{Capitalized(where)} must be a whole number from 1 to 10, not '{text}'.");
                    break;
                case "backoff":
                    if (Backoffs.Contains(text)) backoff = Enum.Parse<Backoff>(text, ignoreCase: true);
                    else Error(value, $"{Capitalized(where)} must be fixed or exponential, not '{text}'.{Suggestions.DidYouMean(text, Backoffs)}");
                    break;
                default:
                    if (ParseDuration(text) is { } duration) _ = key == "delay" ? delay = duration : jitter = duration;
                    else Error(value, $"{Capitalized(where)} must be a duration like 5s, 2m or 1h30m, not '{text}'.");
                    break;
            }
        }
        if (node is YMapping && !HasKey(node, "max-attempts")) Error(node, $"{Capitalized(what)} needs 'max-attempts' (1 to 10).");
        return attempts is { } max ? new RetryPolicy(max, backoff, delay, jitter) : null;
    }

    /// <summary>"5s", "2m", "1h30m", "1h2m3s", or a whole number of seconds.</summary>
    internal static TimeSpan? ParseDuration(string text)
    {
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)) return TimeSpan.FromSeconds(seconds);
        var match = DurationPattern().Match(text);
        if (text.Length == 0 || !match.Success) return null;
        long Part(int group) => match.Groups[group].Success ? long.Parse(match.Groups[group].Value, CultureInfo.InvariantCulture) : 0;
        return TimeSpan.FromSeconds(Part(1) * 3600 + Part(2) * 60 + Part(3));
    }
}
