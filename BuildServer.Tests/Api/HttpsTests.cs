using System.Diagnostics;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using BuildServer.Modules.Https;
using BuildServer.Tests.Infrastructure;

namespace BuildServer.Tests.Api;

/// <summary>
/// The HTTPS endpoint: a self-signed certificate made once and kept (0600), pinned by its SHA-256 fingerprint;
/// a configured PFX; start-up refusals (bad certificate, port in use, plain HTTP off loopback) in one line.
/// </summary>
public sealed class HttpsTests
{
    [Test]
    public async Task FirstStart_NoCertificateConfigured_CreatesOneWithMode0600AndLogsItsFingerprint()
    {
        await using var server = await ServerProcess.StartAsync(Db.Sqlite);

        var path = Path.Combine(server.DataDir, "https-certificate.pfx");
        Assert.That(File.Exists(path), server.Output);
        Assert.That(File.GetUnixFileMode(path), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        using var certificate = X509CertificateLoader.LoadPkcs12FromFile(path, password: null);
        var fingerprint = OpensslStyleFingerprint(certificate);
        Assert.That(server.Output, Does.Contain("SHA-256 fingerprint: " + fingerprint).And.Contain("--ca-fingerprint " + fingerprint));
        var info = await new HttpClient().GetFromJsonAsync<JsonObject>(new Uri(server.BaseAddress, "api/v1/server/info"));
        Assert.That((string?)info!["certificateFingerprint"], Is.EqualTo(fingerprint));
        Assert.That((string?)info["httpsUrl"], Is.EqualTo(server.HttpsAddress.ToString().TrimEnd('/')));
    }

    [Test]
    public async Task HttpsRequest_CertificatePinnedByFingerprint_Succeeds()
    {
        await using var server = await ServerProcess.StartAsync(Db.Sqlite);
        var fingerprint = FingerprintOfDataFolderCertificate(server);

        using var http = PinnedClient(fingerprint);
        var response = await http.GetStringAsync(new Uri(server.HttpsAddress, "healthz"));

        Assert.That(response, Is.EqualTo("ok"));
    }

    [Test]
    public async Task HttpsRequest_AnotherFingerprintPinned_Fails()
    {
        await using var server = await ServerProcess.StartAsync(Db.Sqlite);
        using var other = SelfSigned();

        using var http = PinnedClient(OpensslStyleFingerprint(other));

        await Assert.ThatAsync(() => http.GetStringAsync(new Uri(server.HttpsAddress, "healthz")), Throws.InstanceOf<HttpRequestException>());
    }

    [Test]
    public async Task Restart_SelfSignedCertificate_IsReused()
    {
        await using var server = await ServerProcess.StartAsync(Db.Sqlite);
        var before = await PresentedFingerprint(server);

        await server.StopAsync();
        await server.StartAsync();
        var after = await PresentedFingerprint(server);

        Assert.That(after, Is.EqualTo(before));
        Assert.That(server.Output, Does.Contain("SHA-256 fingerprint: " + before));
    }

    [Test]
    public async Task ConfiguredPfx_IsPresentedAndNoSelfSignedOneIsMade()
    {
        var folder = Directory.CreateTempSubdirectory("buildserver-pfx-").FullName;
        try
        {
            using var certificate = SelfSigned();
            var pfx = Path.Combine(folder, "server.pfx");
            await File.WriteAllBytesAsync(pfx, certificate.Export(X509ContentType.Pfx, "s3cret"));

            await using var server = await ServerProcess.StartAsync(Db.Sqlite,
                "--Https:Certificate:Path=" + pfx, "--Https:Certificate:Password=s3cret");

            Assert.That(await PresentedFingerprint(server), Is.EqualTo(OpensslStyleFingerprint(certificate)));
            Assert.That(File.Exists(Path.Combine(server.DataDir, "https-certificate.pfx")), Is.False);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public async Task ConfiguredPemFiles_ArePresented()
    {
        var folder = Directory.CreateTempSubdirectory("buildserver-pem-").FullName;
        try
        {
            using var certificate = SelfSigned();
            var pem = Path.Combine(folder, "server.crt");
            var key = Path.Combine(folder, "server.key");
            await File.WriteAllTextAsync(pem, certificate.ExportCertificatePem());
            await File.WriteAllTextAsync(key, certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());

            await using var server = await ServerProcess.StartAsync(Db.Sqlite,
                "--Https:Certificate:PemPath=" + pem, "--Https:Certificate:KeyPath=" + key);

            Assert.That(await PresentedFingerprint(server), Is.EqualTo(OpensslStyleFingerprint(certificate)));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public async Task Serve_PfxPathDoesNotExist_ExitsNonZeroWithOneLine()
    {
        var (code, errors) = await ServeAsync("--urls", $"http://127.0.0.1:{Ports.Free()}", "--Https:Certificate:Path=/nonexistent/server.pfx");

        Assert.That(code, Is.Not.Zero);
        Assert.That(errors, Has.Count.EqualTo(1));
        Assert.That(errors[0], Does.StartWith("buildserver serve: Https:Certificate:Path").And.Contain("/nonexistent/server.pfx"));
    }

    [Test]
    public async Task Serve_PfxPasswordWrong_ExitsNonZeroWithOneLine()
    {
        var folder = Directory.CreateTempSubdirectory("buildserver-pfx-").FullName;
        try
        {
            using var certificate = SelfSigned();
            var pfx = Path.Combine(folder, "server.pfx");
            await File.WriteAllBytesAsync(pfx, certificate.Export(X509ContentType.Pfx, "right"));

            var (code, errors) = await ServeAsync("--urls", $"http://127.0.0.1:{Ports.Free()}",
                "--Https:Certificate:Path=" + pfx, "--Https:Certificate:Password=wrong");

            Assert.That(code, Is.Not.Zero);
            Assert.That(errors, Has.Count.EqualTo(1));
            Assert.That(errors[0], Does.StartWith("buildserver serve: Https:Certificate:Path").And.Contain("password"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public async Task Serve_HttpsPortInUse_ExitsNonZeroWithOneLine()
    {
        using var occupant = new TcpListener(System.Net.IPAddress.Loopback, 0);
        occupant.Start();
        var port = ((System.Net.IPEndPoint)occupant.LocalEndpoint).Port;

        var (code, errors) = await ServeAsync("--urls", $"http://127.0.0.1:{Ports.Free()}", $"--Https:Url=https://127.0.0.1:{port}");

        Assert.That(code, Is.Not.Zero);
        Assert.That(errors, Has.Count.EqualTo(1));
        Assert.That(errors[0], Does.Contain($"127.0.0.1:{port}").And.Contain("address already in use"));
    }

    [Test]
    public async Task Serve_PlainHttpOnNonLoopbackWithoutTheFlag_IsRefusedWithOneLine()
    {
        var (code, errors) = await ServeAsync("--urls", $"http://0.0.0.0:{Ports.Free()}");

        Assert.That(code, Is.Not.Zero);
        Assert.That(errors, Has.Count.EqualTo(1));
        Assert.That(errors[0], Does.StartWith("buildserver serve: refusing plain HTTP").And.Contain("AllowInsecureHttp"));
    }

    [Test]
    public async Task Serve_PlainHttpOnNonLoopbackWithTheFlag_Starts()
    {
        await using var server = await ServerProcess.StartListeningOnAsync("0.0.0.0", Db.Sqlite, "--AllowInsecureHttp=true");

        var response = await new HttpClient().GetStringAsync(new Uri(server.BaseAddress, "healthz"));

        Assert.That(response, Is.EqualTo("ok"));
        Assert.That(server.Output, Does.Contain($"http://0.0.0.0:{server.Port}"));
    }

    [Test]
    public void CertificateFingerprint_Sha256_IsColonSeparatedUpperCaseHexOfTheDerHash()
    {
        using var certificate = SelfSigned();

        var fingerprint = CertificateFingerprint.Sha256(certificate);

        Assert.That(fingerprint, Is.EqualTo(OpensslStyleFingerprint(certificate)));
        Assert.That(CertificateFingerprint.Matches(certificate, fingerprint.Replace(":", "", StringComparison.Ordinal).ToLowerInvariant()));
    }

    /// <summary>Written independently of the server's code: what <c>openssl x509 -fingerprint -sha256</c> prints.</summary>
    private static string OpensslStyleFingerprint(X509Certificate2 certificate) =>
        BitConverter.ToString(SHA256.HashData(certificate.RawData)).Replace('-', ':');

    private static string FingerprintOfDataFolderCertificate(ServerProcess server)
    {
        using var certificate = X509CertificateLoader.LoadPkcs12FromFile(Path.Combine(server.DataDir, "https-certificate.pfx"), password: null);
        return OpensslStyleFingerprint(certificate);
    }

    /// <summary>An agent's way to trust a self-signed server: the presented certificate's SHA-256 must equal the pin.</summary>
    private static HttpClient PinnedClient(string pin)
    {
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, certificate, _, _) =>
                certificate is not null && OpensslStyleFingerprint(certificate) == pin,
        };
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>The fingerprint of the certificate the HTTPS listener presents (accepting whatever it is, to look).</summary>
    private static async Task<string> PresentedFingerprint(ServerProcess server)
    {
        string? seen = null;
        using var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, certificate, _, _) =>
            {
                seen = certificate is null ? null : OpensslStyleFingerprint(certificate);
                return true;
            },
        };
        using var http = new HttpClient(handler);
        Assert.That(await http.GetStringAsync(new Uri(server.HttpsAddress, "healthz")), Is.EqualTo("ok"));
        return seen!;
    }

    private static X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=test-server", key, HashAlgorithmName.SHA256);
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
    }

    /// <summary>Runs <c>serve</c> on a fresh data folder and a free HTTPS port (unless given) until it exits; returns its stderr lines.</summary>
    private static async Task<(int Code, List<string> Errors)> ServeAsync(params string[] args)
    {
        var dataDir = Directory.CreateTempSubdirectory("buildserver-https-").FullName;
        try
        {
            var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in (string[])[Repository.ServerDll, "serve", "--data-dir", dataDir, $"--Https:Url=https://127.0.0.1:{Ports.Free()}", .. args])
            {
                info.ArgumentList.Add(a);
            }
            using var process = Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill();
                Assert.Fail("serve did not exit:\n" + await stdout);
            }
            await stdout;
            return (process.ExitCode, [.. (await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries)]);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }
}
