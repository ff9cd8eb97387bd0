using Microsoft.Playwright;

namespace BuildServer.Tests.Infrastructure;

/// <summary>
/// A real browser for the UI tests: Debian's Chromium driven by Playwright (its own browser download does not work
/// here, so it is never used). A missing Chromium fails the test with what to install; it never skips.
/// </summary>
public sealed class Browser : IAsyncDisposable
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private static readonly string[] Flags =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
    ];

    private readonly IPlaywright _playwright;

    private Browser(IPlaywright playwright, IBrowser chromium)
    {
        _playwright = playwright;
        Chromium = chromium;
    }

    public IBrowser Chromium { get; }

    public static async Task<Browser> LaunchAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            Assert.Fail($"The UI tests drive Debian's Chromium at {ChromiumPath}, which is missing: install it (apt-get install chromium; tools/test.sh does).");
        }
        var playwright = await Playwright.CreateAsync();
        var chromium = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = Flags,
        });
        return new Browser(playwright, chromium);
    }

    /// <summary>A fresh context (its own cookies) at 1280×800, or the given size, on the server's address.</summary>
    public async Task<IPage> NewPageAsync(ServerProcess server, int width = 1280, int height = 800)
    {
        var context = await Chromium.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = server.BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = width, Height = height },
            TimezoneId = "UTC",
            Locale = "en-GB",
        });
        context.SetDefaultTimeout(30_000);
        return await context.NewPageAsync();
    }

    /// <summary>Saves a screenshot of the page into docs/screenshots (shown in the README).</summary>
    public static async Task ScreenshotAsync(IPage page, string name)
    {
        var folder = Path.Combine(Repository.Root, "docs", "screenshots");
        Directory.CreateDirectory(folder);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(folder, name + ".png"), FullPage = true });
    }

    public async ValueTask DisposeAsync()
    {
        await Chromium.DisposeAsync();
        _playwright.Dispose();
    }
}
