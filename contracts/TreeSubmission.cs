using SpecEdge.Protocol;

namespace SpecEdge.Contracts;

/// <summary>
/// A draft tree from edge <see cref="EdgeId"/> for session <see cref="SessionId"/>: the drafter's own record
/// (<see cref="DraftMessage"/>: step, committed length, tokens, parents, confidence), addressed. About a hundred bytes:
/// no logits, masks or positions cross the network; the server derives those. The tree is carried as built and
/// verified as received, never copied into another record on the way.
/// </summary>
[GenerateSerializer, Immutable, Alias("specedge.TreeSubmission")]
public sealed record TreeSubmission([property: Id(0)] string SessionId, [property: Id(1)] string EdgeId, [property: Id(7)] DraftMessage Tree)
{
    /// <summary>A tree given by its parts (tests, the edge gateway's wire form).</summary>
    public TreeSubmission(string sessionId, string edgeId, long step, int committedLength, int[] tokens, int[] parents, byte[]? confidence = null)
        : this(sessionId, edgeId, new DraftMessage(step, committedLength, tokens, parents, confidence)) { }

    // The tree's parts, read (and, in `with` expressions, replaced) through the submission.
    public long Step { get => Tree.Step; init => Tree = Tree with { Step = value }; }
    public int CommittedLength { get => Tree.CommittedLength; init => Tree = Tree with { CommittedLength = value }; }
    public int[] Tokens { get => Tree.Tokens; init => Tree = Tree with { Tokens = value }; }
    public int[] Parents { get => Tree.Parents; init => Tree = Tree with { Parents = value }; }
    public byte[]? Confidence { get => Tree.Confidence; init => Tree = Tree with { Confidence = value }; }
}
