using System.Collections.Concurrent;
using SpecEdge.Inference.Model;

namespace SpecEdge.EdgeHost.OpenAi;

/// <summary>
/// Draft models for serving, one per reply drafted at once: a model is driven by one reply at a time (the runtime's
/// models are not meant to be shared between threads). When all are busy a reply goes without (the cluster decodes it
/// alone, with the same output), rather than waiting.
/// </summary>
public sealed class DraftPool : IDisposable
{
    private readonly List<CausalLm> _all = new();
    private readonly ConcurrentBag<CausalLm> _free = new();

    public DraftPool(string directory, string dtype, string device, int slots)
    {
        for (int i = 0; i < Math.Max(1, slots); i++)
        {
            var model = CausalLm.Load(directory, dtype, device);
            _all.Add(model);
            _free.Add(model);
        }
    }

    public CausalLm First => _all[0];

    /// <summary>A free draft model, or null when every one is drafting a reply; give it back with <see cref="Return"/>.</summary>
    public CausalLm? TryTake() => _free.TryTake(out var model) ? model : null;

    public void Return(CausalLm model) => _free.Add(model);

    public void Dispose()
    {
        foreach (var model in _all) model.Dispose();
    }
}
