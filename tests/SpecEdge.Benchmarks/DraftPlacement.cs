namespace SpecEdge.Benchmarks;

/// <summary>Where the draft model runs in a reported mode, which decides whose seconds its compute is.</summary>
public enum DraftPlacement { None, Server, Edge }
