namespace BuildServer.Modules.Runs;

/// <summary>
/// Holds back the reconciler's lease expiry while the server starts: leases that ran out while the server was down
/// say nothing about the agents (they could not renew them), so they are first given more time (the Agents module
/// extends the remote agents' leases at start, then releases the hold). Thread-safe; not held unless someone holds it.
/// </summary>
public sealed class LeaseGrace
{
    private volatile bool _held;

    public bool Held => _held;

    public void Hold() => _held = true;

    public void Release() => _held = false;
}
