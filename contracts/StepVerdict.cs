namespace SpecEdge.Contracts;

/// <summary>
/// What a step committed: the accepted draft tokens followed by the target's bonus token, cut short by a stop
/// condition. <see cref="Finished"/> ends the reply; <see cref="FinishReason"/> says why.
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
    [property: Id(1)] long Step,
    [property: Id(2)] int[] AcceptedTokens,
    [property: Id(3)] bool Finished,
    [property: Id(4)] ReplyFinish? FinishReason,
    [property: Id(5)] double ServerMilliseconds = 0,
    [property: Id(6)] int BatchSize = 0,
    [property: Id(7)] int QueueLength = 0,
    [property: Id(8)] StepTiming? Timing = null,
    [property: Id(9)] int VerifiedNodes = -1,
    [property: Id(10)] VerdictLogprob[]? Logprobs = null);
