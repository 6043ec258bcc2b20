namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// One mode a roofline projection simulates: who drafts, with proactive drafting or not, whether the server drafts a
/// batch's trees one after another (as the silo does) or in one pass, goodput trimming, hand-backs, and whether a
/// hand-back's steps are drafted by a draft model the silo holds besides (<see cref="HandBackDrafts"/>), together or one
/// by one as <see cref="OneByOne"/> says.
/// </summary>
public sealed record ProjectionMode(string Mode, DraftPlacement Placement, bool Proactive = false, bool OneByOne = false, bool Trim = false, bool HandBack = false,
    bool HandBackDrafts = false);
