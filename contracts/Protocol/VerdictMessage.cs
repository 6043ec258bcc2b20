namespace SpecEdge.Protocol;

/// <summary>
/// Verify side -> draft side: the tokens step <see cref="Step"/> committed, i.e. the accepted path below the root
/// followed by the bonus token (possibly cut short by a stop condition). <see cref="Finished"/> ends the generation.
/// The one verdict record of a step: the verifier builds it, the contracts' StepVerdict carries it to the session and the
/// edge, the drafter applies it. <see cref="Logprobs"/>: one per accepted token when the sequence asks for them (the inference library's <c>SamplingParams.Logprobs</c>).
/// <see cref="ServerSteps"/>: steps the server decoded on its own right after this one (a hand-back: the verifier found the
/// edge's loop slower for this conversation than plain decoding on the server); their tokens follow this step's in <see cref="AcceptedTokens"/>,
/// and the next tree is for step <see cref="Step"/> + 1 + <see cref="ServerSteps"/>.
/// </summary>
public sealed record VerdictMessage(long Step, int[] AcceptedTokens, bool Finished, TokenLogprob[]? Logprobs = null, int ServerSteps = 0)
{
    /// <summary>The step the next tree is for.</summary>
    public long NextStep => Step + 1 + ServerSteps;
}
