using SpecEdge.Protocol;

namespace SpecEdge.Contracts;

/// <summary>
/// What a step committed, for session <see cref="SessionId"/>: the verifier's own record (<see cref="Verdict"/>: the
/// accepted draft tokens followed by the target's bonus token, cut short by a stop condition, and their logprobs when
/// asked for), carried as built and applied by the edge's drafter as received. <see cref="Finished"/> ends the reply;
/// <see cref="FinishReason"/> says why.
/// <see cref="ServerMilliseconds"/> is the device time of the forward that verified it (diagnostics: the rest of a
/// step's round trip is transport, queueing and drafting). <see cref="BatchSize"/> and <see cref="QueueLength"/> are the
/// verifier's load when the step ran (trees in its forward, steps still waiting): an edge with adaptive trees sizes its
/// next tree to them. 0 from an older silo. <see cref="Timing"/>: the silo's breakdown of the step, only when the silo
/// is configured to send it (<c>SpecEdge:StepTimings</c>). <see cref="VerifiedNodes"/>: how many nodes of the tree the
/// verifier verified when it trimmed the tree to what paid at its load (-1: the whole tree); an edge need not draft
/// much more than that next time. <see cref="Logprobs"/>: one per accepted token when the conversation asks for them
/// (<see cref="GenerationSettings.Logprobs"/>); never sent on to the edge.
/// </summary>
[GenerateSerializer, Immutable, Alias("specedge.StepVerdict")]
public sealed record StepVerdict(
    [property: Id(0)] string SessionId,
    [property: Id(11)] VerdictMessage Verdict,
    [property: Id(4)] ReplyFinish? FinishReason,
    [property: Id(5)] double ServerMilliseconds = 0,
    [property: Id(6)] int BatchSize = 0,
    [property: Id(7)] int QueueLength = 0,
    [property: Id(8)] StepTiming? Timing = null,
    [property: Id(9)] int VerifiedNodes = -1)
{
    /// <summary>
    /// The verifier found that this session would commit tokens faster decoded plainly on the server than through its
    /// edge's loop (its tree cut to the root under load, or its nodes worth less than the edge's turnaround): the session
    /// follows it with a hand-back. Between silo and session only; an edge learns of a hand-back from <see cref="ServerSteps"/>.
    /// </summary>
    [Id(12)] public bool ServerPays { get; init; }

    /// <summary>A verdict given by its parts (tests, the edge gateway's wire form).</summary>
    public StepVerdict(string sessionId, long step, int[] acceptedTokens, bool finished, ReplyFinish? finishReason, double serverMilliseconds = 0,
        int batchSize = 0, int queueLength = 0, StepTiming? timing = null, int verifiedNodes = -1, TokenLogprob[]? logprobs = null)
        : this(sessionId, new VerdictMessage(step, acceptedTokens, finished, logprobs), finishReason, serverMilliseconds, batchSize, queueLength, timing, verifiedNodes) { }

    // The verdict's parts, read (and, in `with` expressions, replaced) through the step's record.
    public long Step { get => Verdict.Step; init => Verdict = Verdict with { Step = value }; }
    public int[] AcceptedTokens { get => Verdict.AcceptedTokens; init => Verdict = Verdict with { AcceptedTokens = value }; }
    public bool Finished { get => Verdict.Finished; init => Verdict = Verdict with { Finished = value }; }
    public TokenLogprob[]? Logprobs { get => Verdict.Logprobs; init => Verdict = Verdict with { Logprobs = value }; }
    public int ServerSteps { get => Verdict.ServerSteps; init => Verdict = Verdict with { ServerSteps = value }; }
}
