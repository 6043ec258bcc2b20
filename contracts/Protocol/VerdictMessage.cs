namespace SpecEdge.Protocol;

/// <summary>
/// Verify side -> draft side: the tokens step <see cref="Step"/> committed, i.e. the accepted path below the root
/// followed by the bonus token (possibly cut short by a stop condition). <see cref="Finished"/> ends the generation.
/// The one verdict record of a step: the verifier builds it, the contracts' StepVerdict carries it to the session and the
/// edge, the drafter applies it. <see cref="Logprobs"/>: one per accepted token when the sequence asks for them (the inference library's <c>SamplingParams.Logprobs</c>).
/// </summary>
public sealed record VerdictMessage(long Step, int[] AcceptedTokens, bool Finished, TokenLogprob[]? Logprobs = null);
