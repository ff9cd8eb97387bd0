using System.Security.Cryptography;
using System.Text;

namespace BuildServer.Modules.Security;

/// <summary>Makes and hashes token secrets. Tokens carry 256 random bits, so a plain SHA-256 suffices (no salt or slow hash needed).</summary>
public static class TokenSecrets
{
    public const string ApiTokenPrefix = "bs_";

    public static string NewSecret(string prefix) =>
        prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static string Hash(string secret) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
}
