using System.ComponentModel.DataAnnotations;
using BuildServer.Modules.Security.Users;

namespace BuildServer.Modules.Security.Ui;

/// <summary>The sign-in form's fields.</summary>
public sealed class SignInInput
{
    [Required(ErrorMessage = "Enter your user name.")]
    [StringLength(100, ErrorMessage = "A user name has at most 100 characters.")]
    public string? UserName { get; set; }

    [Required(ErrorMessage = "Enter your password.")]
    [StringLength(AccountRules.MaxPasswordLength, ErrorMessage = "A password has at most 200 characters.")]
    public string? Password { get; set; }
}

/// <summary>The setup form's fields: the first admin's name and password, twice.</summary>
public sealed class SetupInput
{
    [Required(ErrorMessage = "Choose a user name.")]
    [RegularExpression(AccountRules.UserNamePattern, ErrorMessage = AccountRules.UserNameRule)]
    public string? UserName { get; set; }

    [Required(ErrorMessage = "Choose a password.")]
    [StringLength(AccountRules.MaxPasswordLength, MinimumLength = AccountRules.MinPasswordLength, ErrorMessage = AccountRules.PasswordRule)]
    public string? Password { get; set; }

    [Required(ErrorMessage = "Repeat the password.")]
    [Compare(nameof(Password), ErrorMessage = "The two passwords differ.")]
    public string? ConfirmPassword { get; set; }
}

/// <summary>Where to go after signing in: only a path on this site (never another host, which would make the
/// sign-in page an open redirect).</summary>
public static class ReturnUrls
{
    public static string Safe(string? returnUrl) =>
        returnUrl is { Length: > 0 } url && url[0] == '/' && !url.StartsWith("//", StringComparison.Ordinal)
            && !url.StartsWith("/\\", StringComparison.Ordinal) && Uri.IsWellFormedUriString(url, UriKind.Relative)
            ? url : "/";
}
