using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace BuildServer.Modules.Executors.MicroVm;

/// <summary>
/// The host side of one running VM: QEMU under <c>setsid timeout -s KILL</c> (its own process group, so a kill takes
/// the time limit and QEMU together; the limit holds even if the agent dies), the console's last lines, and the
/// three virtio ports over unix sockets QEMU connects to: control (lines and tar payloads), stdout and stderr.
/// The output ports are read all the time and their lines go to the sink of the step running now.
/// </summary>
internal sealed class GuestVm : IAsyncDisposable
{
    private const int ConsoleLines = 40;
    private const string EndMarker = "\u001eEND ";

    private readonly Process _process;
    private readonly int _group;
    private readonly Queue<string> _console = new();
    private string? _crash; // the console's first crash headline ("Kernel panic - not syncing: …", "BUG: …"), kept when the tail scrolls past it
    private readonly Task _consoleReading;
    private Socket? _control;
    private NetworkStream? _controlStream;
    private readonly byte[] _controlBuffer = new byte[64 * 1024];
    private int _controlStart;
    private int _controlEnd;
    private readonly Task[] _pumps = new Task[2];
    private readonly OutputPort?[] _ports = new OutputPort?[2];
    private volatile IOutputSink? _sink;

    private GuestVm(Process process)
    {
        _process = process;
        _group = process.Id; // setsid execs timeout in place: it leads the new process group
        _consoleReading = Task.WhenAll(ReadConsoleAsync(process.StandardOutput), ReadConsoleAsync(process.StandardError));
        for (var i = 0; i < _pumps.Length; i++) _pumps[i] = Task.CompletedTask;
    }

    public bool HasExited => _process.HasExited;

    /// <summary>Whether the guest has bash (on the root file system); else steps with the default shell run in <c>sh -e</c>.</summary>
    public bool HasBash { get; private set; }

    /// <summary>Starts QEMU with its sockets listening, then waits until the guest's init says READY. Throws an
    /// <see cref="ExecutorException"/> with the console's last lines when the VM does not get there.</summary>
    public static async Task<GuestVm> StartAsync(string qemu, IReadOnlyList<string> arguments, VmSpec vm, TimeSpan lifetime,
        TimeSpan bootTimeout, CancellationToken cancellationToken)
    {
        var listeners = new[] { vm.Control, vm.Stdout, vm.Stderr }.Select(Listen).ToArray();
        try
        {
            var info = new ProcessStartInfo("setsid")
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (var arg in (string[])["timeout", "-s", "KILL", ((long)lifetime.TotalSeconds).ToString(CultureInfo.InvariantCulture), qemu])
            {
                info.ArgumentList.Add(arg);
            }
            foreach (var arg in arguments) info.ArgumentList.Add(arg);
            info.Environment.Clear();
            info.Environment["PATH"] = Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin";
            var process = Process.Start(info) ?? throw new ExecutorException($"could not start {qemu}");
            process.StandardInput.Close();
            var guest = new GuestVm(process);
            try
            {
                await guest.ConnectAsync(listeners, bootTimeout, cancellationToken);
                return guest;
            }
            catch
            {
                await guest.DisposeAsync();
                throw;
            }
        }
        finally
        {
            foreach (var listener in listeners) listener.Dispose();
        }
    }

    private static Socket Listen(string path)
    {
        if (Encoding.UTF8.GetByteCount(path) > 107)
        {
            throw new ExecutorException($"the VM's socket path '{path}' is longer than unix sockets allow (107 bytes): use a shorter data folder");
        }
        File.Delete(path);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(path));
        socket.Listen(1);
        return socket;
    }

    private async Task ConnectAsync(Socket[] listeners, TimeSpan bootTimeout, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(bootTimeout);
        var exited = _process.WaitForExitAsync(CancellationToken.None);
        try
        {
            var accepting = Task.WhenAll(listeners.Select(l => l.AcceptAsync(timeout.Token).AsTask()));
            if (await Task.WhenAny(accepting, exited) == exited) throw BootFailed("QEMU exited before the VM started");
            var sockets = await accepting;
            _control = sockets[0];
            _controlStream = new NetworkStream(_control, ownsSocket: true);
            for (var i = 0; i < 2; i++)
            {
                var port = new OutputPort(this, i == 0 ? OutputChannel.Stdout : OutputChannel.Stderr);
                _ports[i] = port;
                _pumps[i] = port.PumpAsync(sockets[i + 1]);
            }
            var ready = ReadLineAsync(timeout.Token);
            if (await Task.WhenAny(ready, exited) == exited) throw BootFailed("the VM stopped before its init was ready");
            var line = await ready ?? throw BootFailed("the VM's control port closed before its init was ready");
            if (!line.StartsWith("READY", StringComparison.Ordinal)) throw BootFailed($"the VM's init said '{line}' instead of READY");
            HasBash = line.Contains("bash=1", StringComparison.Ordinal);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw BootFailed($"the VM did not boot within {bootTimeout.TotalSeconds:0} s");
        }
    }

    private ExecutorException BootFailed(string why)
    {
        Kill();
        var console = ConsoleTail("Last console lines");
        return new ExecutorException($"the VM failed to boot: {why}.{(console.Length > 0 ? console : " The console said nothing.")}");
    }

    /// <summary>The console's last lines as a sentence part (empty when the console said nothing).</summary>
    public string ConsoleTail(string title)
    {
        // The console readers end with QEMU; give them a moment to take its last words.
        if (_process.HasExited) _consoleReading.Wait(TimeSpan.FromMilliseconds(500));
        lock (_console)
        {
            if (_console.Count == 0) return "";
            // A crash's stack trace can be longer than the tail; its headline says what happened, so it stays.
            var headline = _crash is not null && !_console.Contains(_crash) ? $"{_crash}\n…\n" : "";
            return $" {title}:\n{headline}{string.Join('\n', _console)}";
        }
    }

    private async Task ReadConsoleAsync(StreamReader reader)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            var text = line.TrimEnd('\r');
            lock (_console)
            {
                if (_crash is null && IsCrashHeadline(text)) _crash = text;
                _console.Enqueue(text);
                if (_console.Count > ConsoleLines) _console.Dequeue();
            }
        }
    }

    private static bool IsCrashHeadline(string line) =>
        line.Contains("Kernel panic - not syncing", StringComparison.Ordinal)
        || line.Contains("BUG: ", StringComparison.Ordinal)
        || line.Contains("Oops: ", StringComparison.Ordinal);

    public async Task SendAsync(string line, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        var stream = _controlStream ?? throw new InvalidOperationException("not connected");
        await stream.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"), cancellationToken);
        if (!payload.IsEmpty) await stream.WriteAsync(payload, cancellationToken);
    }

    /// <summary>The next control line; null when the port closed (the VM is gone).</summary>
    public async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        var line = new List<byte>();
        while (true)
        {
            if (_controlStart == _controlEnd && !await FillAsync(cancellationToken)) return null;
            var span = _controlBuffer.AsSpan(_controlStart, _controlEnd - _controlStart);
            var newline = span.IndexOf((byte)'\n');
            if (newline >= 0)
            {
                line.AddRange(span[..newline]);
                _controlStart += newline + 1;
                return Encoding.UTF8.GetString([.. line]);
            }
            line.AddRange(span);
            _controlStart = _controlEnd;
        }
    }

    /// <summary>Exactly <paramref name="count"/> bytes of the control port; null when it closed first.</summary>
    public async Task<byte[]?> ReadBytesAsync(int count, CancellationToken cancellationToken)
    {
        var bytes = new byte[count];
        var have = 0;
        while (have < count)
        {
            if (_controlStart == _controlEnd && !await FillAsync(cancellationToken)) return null;
            var take = Math.Min(count - have, _controlEnd - _controlStart);
            _controlBuffer.AsSpan(_controlStart, take).CopyTo(bytes.AsSpan(have));
            (_controlStart, have) = (_controlStart + take, have + take);
        }
        return bytes;
    }

    private async Task<bool> FillAsync(CancellationToken cancellationToken)
    {
        try
        {
            var read = await _controlStream!.ReadAsync(_controlBuffer, cancellationToken);
            (_controlStart, _controlEnd) = (0, read);
            return read > 0;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Sends the output ports' lines to <paramref name="sink"/> from now on (null: drop them, between steps);
    /// returns a task per port that completes when that port carries the end marker of step <paramref name="step"/>.</summary>
    public Task[] Attach(IOutputSink? sink, int step)
    {
        _sink = sink;
        return [.. _ports.Select(p => p?.ExpectEnd(step) ?? Task.CompletedTask)];
    }

    /// <summary>Kills QEMU and its time limit at once (SIGKILL to the group).</summary>
    public void Kill()
    {
        if (!ProcessGroups.Signal(_group, ProcessGroups.SigKill)) ProcessGroups.KillProcess(_process.Id);
    }

    public async Task<bool> WaitForExitAsync(TimeSpan limit)
    {
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Kill();
            await WaitForExitAsync(TimeSpan.FromSeconds(5));
        }
        _controlStream?.Dispose();
        await Task.WhenAll(_pumps);
        await Task.WhenAny(_consoleReading, Task.Delay(TimeSpan.FromSeconds(1)));
        _process.Dispose();
    }

    /// <summary>One output port: its bytes into lines for the current sink, and the end markers of steps.</summary>
    private sealed class OutputPort(GuestVm vm, OutputChannel channel) : IOutputSink
    {
        private readonly object _gate = new();
        private (int Step, TaskCompletionSource Done)? _expected;

        public Task ExpectEnd(int step)
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_gate) _expected = (step, done);
            return done.Task;
        }

        public async Task PumpAsync(Socket socket)
        {
            var lines = new OutputLines(this, channel);
            var buffer = new byte[64 * 1024];
            using (socket)
            {
                try
                {
                    while (await socket.ReceiveAsync(buffer, SocketFlags.None) is var read and > 0)
                    {
                        lines.Add(buffer.AsSpan(0, read));
                    }
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    // the VM is gone
                }
            }
            lines.Flush();
            lock (_gate) _expected?.Done.TrySetResult();
        }

        public void Line(ReadOnlySpan<char> text, OutputChannel stream)
        {
            var marker = text.IndexOf(EndMarker, StringComparison.Ordinal);
            var content = marker < 0 ? text : text[..marker];
            if (marker < 0 || !content.IsEmpty) vm._sink?.Line(content, stream);
            if (marker < 0) return;
            if (!int.TryParse(text[(marker + EndMarker.Length)..], NumberStyles.None, CultureInfo.InvariantCulture, out var step)) return;
            lock (_gate)
            {
                if (_expected is { } expected && expected.Step == step) expected.Done.TrySetResult();
            }
        }
    }
}
