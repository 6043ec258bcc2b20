namespace SpecEdge.Inference.Speculative;

/// <summary>
/// Draft side -> verify side: a token tree for step <see cref="Step"/> of a sequence that has
/// <see cref="CommittedLength"/> committed tokens. Node 0 is the root, the last committed token (parent -1); every other
/// node's parent is an earlier node. Nothing else crosses: no logits, no masks, no positions. <see cref="Confidence"/>,
/// when present, is one byte per node (<see cref="PathConfidence"/>): the draft's probability that the node's path is
/// accepted, which the verifier prices the tree by. Nodes come best first, so any prefix is a tree. Absent (an older
/// edge): the tree is verified whole.
/// </summary>
public sealed record DraftMessage(long Step, int CommittedLength, int[] Tokens, int[] Parents, byte[]? Confidence = null);

/// <summary>
/// Verify side -> draft side: the tokens step <see cref="Step"/> committed, i.e. the accepted path below the root
/// followed by the bonus token (possibly cut short by a stop condition). <see cref="Finished"/> ends the generation.
/// <see cref="Logprobs"/>: one per accepted token when the sequence asks for them (<see cref="Sampling.SamplingParams.Logprobs"/>).
/// </summary>
public sealed record VerdictMessage(long Step, int[] AcceptedTokens, bool Finished, Sampling.TokenLogprob[]? Logprobs = null);
