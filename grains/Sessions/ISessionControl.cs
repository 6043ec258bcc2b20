namespace SpecEdge.Grains.Sessions;

/// <summary>
/// Entry points of a session for its own silo only (the call policy refuses interfaces outside the contracts to
/// services and edges). <see cref="SessionGrain.ChatAsync"/> waits for a whole reply, so it interleaves with the step
/// loop; it starts its turn through this interface so that the turn start itself is an ordinary, non-interleaved request.
/// </summary>
[Alias("specedge.ISessionControl")]
public interface ISessionControl : IGrainWithStringKey
{
    /// <summary>Starts a turn whose reply slot was already taken from <paramref name="quotaTenant"/>'s quota (null: none).</summary>
    [Alias("StartTurnAsync")]
    Task<SpecEdge.Contracts.TurnStarted> StartTurnAsync(string text, string? quotaTenant);
}
