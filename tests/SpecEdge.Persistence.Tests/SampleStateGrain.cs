namespace SpecEdge.Persistence.Tests;

public sealed class SampleStateGrain([PersistentState("state", "blob")] IPersistentState<SampleState> state) : Grain, ISampleStateGrain
{
    // Deliberately not persisted: a new activation gets a new id.
    private readonly Guid _activationId = Guid.NewGuid();

    public Task SaveAsync(SampleState value)
    {
        state.State = value;
        return state.WriteStateAsync();
    }

    public Task<SampleState> GetAsync() => Task.FromResult(state.State);

    public Task<Guid> GetActivationIdAsync() => Task.FromResult(_activationId);

    public Task DeactivateAsync()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }
}
