namespace BuildServer.Bench.Agents;

/// <summary>One simulated agent of the fleet.</summary>
internal sealed partial class FleetBench
{
    private sealed class Agent(long id, string token)
    {
        public long Id { get; } = id;

        public string Token { get; } = token;

        private long _running;

        /// <summary>The attempt being run (0: none); written by the acquire loop, read by the heartbeat loop.</summary>
        public long Running
        {
            get => Interlocked.Read(ref _running);
            set => Interlocked.Exchange(ref _running, value);
        }
    }
}
