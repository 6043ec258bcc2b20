namespace SpecEdge.Protocol;

/// <summary>
/// The log probability of one emitted token under the distribution it was drawn from (see
/// the inference library's <c>SamplingParams.Logprobs</c>), and the most likely tokens of that distribution, most likely first (ties: lower
/// id first). A token the distribution excludes (outside top-k or top-p) is never among them, so there may be fewer than
/// asked for.
/// </summary>
public sealed record TokenLogprob(int Token, double Logprob, int[] TopTokens, double[] TopLogprobs);
