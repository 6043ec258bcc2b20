namespace SpecEdge.Inference.Speculative;

/// <summary>
/// Verify side -> draft side: the tokens step <see cref="Step"/> committed, i.e. the accepted path below the root
/// followed by the bonus token (possibly cut short by a stop condition). <see cref="Finished"/> ends the generation.
/// <see cref="Logprobs"/>: one per accepted token when the sequence asks for them (<see cref="Sampling.SamplingParams.Logprobs"/>).
/// </summary>
public sealed record VerdictMessage(long Step, int[] AcceptedTokens, bool Finished, Sampling.TokenLogprob[]? Logprobs = null);
