using System.Net;
using System.Text.Json.Nodes;
using BuildServer.Tests.Infrastructure;
using Microsoft.Playwright;

namespace BuildServer.Tests.Ui;

/// <summary>What the UI tests do often: sign in through the form, read the antiforgery token of a page, post a form.</summary>
internal static class UiPages
{
    public static async Task SignInAsync(IPage page, string userName, string password)
    {
        await page.GotoAsync("signin");
        await page.Locator("#username").FillAsync(userName);
        await page.Locator("#password").FillAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
    }

    /// <summary>Waits until the page's circuit is connected: a prerendered button shows before it does anything.</summary>
    public static Task InteractiveAsync(IPage page) =>
        Assertions.Expect(page.Locator(".mud-layout[data-interactive=true]")).ToBeAttachedAsync();

    /// <summary>The antiforgery token of the first form on the page (as a forger who loaded it would have it).</summary>
    public static Task<string> AntiforgeryTokenAsync(IPage page) =>
        page.Locator("input[name=__RequestVerificationToken]").First.GetAttributeAsync("value")!;

    /// <summary>A form post from the page's context (its cookies), not through the page's own form.</summary>
    public static Task<IAPIResponse> PostFormAsync(IPage page, string path, Dictionary<string, string> fields) =>
        page.Context.APIRequest.PostAsync(path, new APIRequestContextOptions
        {
            Form = Form(page, fields),
            MaxRedirects = 0,
        });

    private static IFormData Form(IPage page, Dictionary<string, string> fields)
    {
        var form = page.Context.APIRequest.CreateFormData();
        foreach (var (name, value) in fields) form.Set(name, value);
        return form;
    }

    /// <summary>Opens a MudBlazor select and picks the option with exactly this text.</summary>
    public static async Task ChooseAsync(IPage page, ILocator select, string option)
    {
        await select.GetByRole(AriaRole.Combobox).ClickAsync();
        await Options(page).Filter(new() { HasTextRegex = new System.Text.RegularExpressions.Regex($"^\\s*{System.Text.RegularExpressions.Regex.Escape(option)}\\s*$") }).ClickAsync();
        await Assertions.Expect(Options(page)).ToHaveCountAsync(0);
    }

    /// <summary>A MudBlazor field's error text (inside the field's element).</summary>
    public const string FieldError = ".mud-input-helper-text.mud-input-error";

    /// <summary>The options of the open select's list.</summary>
    public static ILocator Options(IPage page) => page.Locator(".mud-popover-open .mud-list-item");

    public static async Task<long> CreateUserAsync(ServerProcess server, string userName, string password, bool serverAdmin = false, Dictionary<string, string>? roles = null)
    {
        using var api = server.Client();
        var response = await api.Http.PostAsync("users", System.Net.Http.Json.JsonContent.Create(new { userName, password, serverAdmin, roles }));
        return (await ApiClient.ExpectAsync(response, HttpStatusCode.Created))["id"]!.GetValue<long>();
    }

    public static async Task<long> CreateOrgAsync(ServerProcess server, string name)
    {
        using var api = server.Client();
        var response = await api.Http.PostAsync("orgs", System.Net.Http.Json.JsonContent.Create(new { name }));
        return (await ApiClient.ExpectAsync(response, HttpStatusCode.Created))["id"]!.GetValue<long>();
    }

    public static async Task<JsonNode> CreateProjectAsync(ServerProcess server, string name, string org)
    {
        using var api = server.Client();
        var response = await api.Http.PostAsync("projects", System.Net.Http.Json.JsonContent.Create(new { name, org }));
        return await ApiClient.ExpectAsync(response, HttpStatusCode.Created);
    }
}
