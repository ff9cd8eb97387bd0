using System.Text;

namespace BuildServer.Modules.Executors;

/// <summary>Bytes of one output stream (a container's exec, a VM's port) into lines for an <see cref="IOutputSink"/>:
/// UTF-8 split across reads is kept whole, a CR before the LF is dropped. Not thread-safe: one per stream.</summary>
internal sealed class OutputLines(IOutputSink output, OutputChannel channel)
{
    private readonly Decoder _decoder = Encoding.UTF8.GetDecoder();
    private readonly StringBuilder _line = new();
    private char[] _chars = new char[1024];

    public void Add(ReadOnlySpan<byte> bytes)
    {
        var count = _decoder.GetCharCount(bytes, flush: false);
        if (_chars.Length < count) _chars = new char[count];
        var n = _decoder.GetChars(bytes, _chars, flush: false);
        var chars = _chars.AsSpan(0, n);
        while (chars.IndexOf('\n') is var newline and >= 0)
        {
            _line.Append(chars[..newline]);
            Emit();
            chars = chars[(newline + 1)..];
        }
        _line.Append(chars);
    }

    /// <summary>Emits a last line without its LF, if any.</summary>
    public void Flush()
    {
        if (_line.Length > 0) Emit();
    }

    private void Emit()
    {
        if (_line.Length > 0 && _line[^1] == '\r') _line.Length--;
        output.Line(_line.ToString(), channel);
        _line.Clear();
    }
}
