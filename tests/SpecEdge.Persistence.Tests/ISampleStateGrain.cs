namespace SpecEdge.Persistence.Tests;

public interface ISampleStateGrain : IGrainWithStringKey
{
    Task SaveAsync(SampleState state);

    Task<SampleState> GetAsync();

    /// <summary>Differs between activations: proves a read came from storage, not from memory.</summary>
    Task<Guid> GetActivationIdAsync();

    Task DeactivateAsync();
}
