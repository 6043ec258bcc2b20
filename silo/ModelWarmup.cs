using Microsoft.Extensions.Hosting;
using SpecEdge.Grains.Hosting;

namespace SpecEdge.Silo;

/// <summary>
/// Loads the models when the silo starts, so a bad path or a truncated checkpoint stops start-up with a clear error.
/// Registered as a singleton too: readiness (<see cref="SiloReadinessHealthCheck"/>) asks it whether loading finished.
/// </summary>
public sealed class ModelWarmup(ModelHost models) : IHostedService
{
    private volatile bool _loaded;

    /// <summary>True once the target model (and tokenizer, and server draft if any) is in memory.</summary>
    public bool Loaded => _loaded;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = models.VocabSize;
        _loaded = true;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
