// Copies text to the clipboard (the copy buttons of secrets shown once). The Clipboard API works only in a secure
// context (HTTPS, or the loopback address); a server reached over plain HTTP on another address falls back to a hidden
// text area and the copy command. Returns whether the text was copied.
export async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
        try {
            await navigator.clipboard.writeText(text);
            return true;
        } catch {
            // Refused (no permission, page not focused): try the old way.
        }
    }
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try {
        return document.execCommand("copy");
    } finally {
        area.remove();
    }
}
