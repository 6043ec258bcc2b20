namespace SpecEdge.Benchmarks.Capacity;

/// <summary>One sequence's share of a verify forward: the tokens it feeds (a tree, one token, or a prompt) and the KV context it attends to.</summary>
public readonly record struct VerifyItem(int Tokens, int Context);
