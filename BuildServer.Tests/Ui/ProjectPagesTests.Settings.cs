using System.Net;
using System.Text.RegularExpressions;
using BuildServer.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace BuildServer.Tests.Ui;

/// <summary>A project's settings page: for the admins of its organisation, validated by the API's rules.</summary>
public sealed partial class ProjectPagesTests
{
    [Test]
    public async Task Settings_ByAnOrgAdmin_ShowTheLaneError_ThenSave_AndMoveTheProjectOnlyBetweenHerOrganisations()
    {
        var page = await SignedInAsync("olga", "projects/mover");
        await page.Locator("[data-test=settings]").ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Settings of mover" })).ToBeVisibleAsync();
        await UiPages.InteractiveAsync(page);
        await Expect(page.Locator("[data-test=field-pipelinePath] input")).ToHaveValueAsync("/srv/mover/ci.yml");

        await UiPages.ChooseAsync(page, page.Locator("[data-test=field-defaultLane]"), "critical");
        await UiPages.ChooseAsync(page, page.Locator("[data-test=field-maxLane]"), "normal");
        await page.Locator("[data-test=save]").ClickAsync();

        await Expect(page.Locator("[data-test=field-defaultLane]").Locator(UiPages.FieldError)).ToHaveTextAsync("The default lane (critical) is above the highest lane (normal) the project may use.");
        await Expect(page.Locator("[data-test=saved]")).ToHaveCountAsync(0);
        using var api = _server.Client();
        Assert.That((await ApiClient.ExpectAsync(await api.Http.GetAsync("projects/mover"), HttpStatusCode.OK))["defaultLane"]!.GetValue<string>(), Is.EqualTo("normal"));

        await UiPages.ChooseAsync(page, page.Locator("[data-test=field-defaultLane]"), "low");
        await page.Locator("[data-test=field-org]").GetByRole(AriaRole.Combobox).ClickAsync();
        await Expect(UiPages.Options(page)).ToHaveTextAsync(["acme", "initech"]);
        await UiPages.Options(page).Filter(new() { HasText = "initech" }).ClickAsync();
        await page.Locator("[data-test=field-pipelinePath] input").FillAsync("/srv/mover/.buildserver.yml");
        await page.Locator("[data-test=save]").ClickAsync();

        await Expect(page.Locator("[data-test=saved]")).ToBeVisibleAsync();
        await Expect(page.Locator("[data-test=field-defaultLane]").Locator(UiPages.FieldError)).ToHaveCountAsync(0);
        var saved = await ApiClient.ExpectAsync(await api.Http.GetAsync("projects/mover"), HttpStatusCode.OK);
        Assert.That((saved["org"]!.GetValue<string>(), saved["defaultLane"]!.GetValue<string>(), saved["maxLane"]!.GetValue<string>(), saved["pipelinePath"]!.GetValue<string>()),
            Is.EqualTo(("initech", "low", "normal", "/srv/mover/.buildserver.yml")));
        await page.GotoAsync("projects/mover");
        await Expect(page.Locator("[data-test=project-facts]")).ToContainTextAsync("Organisation initech");
    }

    [Test]
    public async Task Settings_ForAMember_AreRefused_AndHerPageHasNoSettingsLink()
    {
        var page = await SignedInAsync("mia", "projects/webshop");
        await Expect(page.Locator("[data-test=run]")).ToBeVisibleAsync();
        await Expect(page.Locator("[data-test=settings]")).ToHaveCountAsync(0);

        var settings = await page.GotoAsync("projects/webshop/settings");

        Assert.That(settings!.Status, Is.EqualTo(403));
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Not allowed" })).ToBeVisibleAsync();
    }
}
