namespace SpecEdge.Benchmarks;

/// <summary>How a run decodes: target-only, tree SD with drafting only before sending, or tree SD with proactive drafting.</summary>
public enum DecodeKind { Autoregressive, Speculative, SpeculativeProactive }
