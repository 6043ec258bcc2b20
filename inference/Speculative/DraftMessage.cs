namespace SpecEdge.Inference.Speculative;

/// <summary>
/// Draft side -> verify side: a token tree for step <see cref="Step"/> of a sequence that has
/// <see cref="CommittedLength"/> committed tokens. Node 0 is the root, the last committed token (parent -1); every other
/// node's parent is an earlier node. Nothing else crosses: no logits, no masks, no positions.
/// </summary>
public sealed record DraftMessage(long Step, int CommittedLength, int[] Tokens, int[] Parents);

/// <summary>
/// Verify side -> draft side: the tokens step <see cref="Step"/> committed, i.e. the accepted path below the root
/// followed by the bonus token (possibly cut short by a stop condition). <see cref="Finished"/> ends the generation.
/// </summary>
public sealed record VerdictMessage(long Step, int[] AcceptedTokens, bool Finished);
