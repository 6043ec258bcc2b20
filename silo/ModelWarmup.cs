using Microsoft.Extensions.Hosting;
using SpecEdge.Grains.Hosting;

namespace SpecEdge.Silo;

/// <summary>Loads the models when the silo starts, so a bad path or a truncated checkpoint stops start-up with a clear error.</summary>
public sealed class ModelWarmup(ModelHost models) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.FromResult(models.VocabSize);
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
