using System.Text.RegularExpressions;

namespace BuildServer.Modules.Security.Users;

/// <summary>What a user name and a password must be; the same rules for the setup page and the users API.</summary>
public static partial class AccountRules
{
    public const int MinPasswordLength = 8;
    public const int MaxPasswordLength = 200;
    public const string UserNamePattern = "^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$";
    public const string UserNameRule = "A user name is 1 to 100 letters, digits, '.', '_', '@' or '-', starting with a letter or digit.";
    public const string PasswordRule = "A password has 8 to 200 characters.";

    [GeneratedRegex(UserNamePattern)]
    private static partial Regex UserName();

    public static bool IsUserName(string? value) => value is not null && UserName().IsMatch(value);

    public static bool IsPassword(string? value) => value is { Length: >= MinPasswordLength and <= MaxPasswordLength };
}
