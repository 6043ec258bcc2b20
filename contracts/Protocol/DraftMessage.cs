namespace SpecEdge.Protocol;

/// <summary>
/// Draft side -> verify side: a token tree for step <see cref="Step"/> of a sequence that has
/// <see cref="CommittedLength"/> committed tokens. Node 0 is the root, the last committed token (parent -1); every other
/// node's parent is an earlier node. Nothing else crosses: no logits, no masks, no positions. <see cref="Confidence"/>,
/// when present, is one byte per node (<c>PathConfidence</c>): the draft's probability that the node's path is
/// accepted, which the verifier prices the tree by. Nodes come best first, so any prefix is a tree. Absent (an older
/// edge): the tree is verified whole. The one tree record of a step: the drafter builds it, the contracts' TreeSubmission
/// carries it (Orleans serializes it through a surrogate), the verifier verifies it.
/// </summary>
public sealed record DraftMessage(long Step, int CommittedLength, int[] Tokens, int[] Parents, byte[]? Confidence = null);
