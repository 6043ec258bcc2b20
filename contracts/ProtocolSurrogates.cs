using SpecEdge.Protocol;

namespace SpecEdge.Contracts;

// How Orleans carries the step's records (contracts/Protocol), which the inference library builds and applies and which
// must not depend on Orleans: the same fields, arrays passed by reference (not copied).

[GenerateSerializer, Immutable, Alias("specedge.DraftMessage")]
public readonly struct DraftMessageSurrogate
{
    [Id(0)] public long Step { get; init; }
    [Id(1)] public int CommittedLength { get; init; }
    [Id(2)] public int[] Tokens { get; init; }
    [Id(3)] public int[] Parents { get; init; }
    [Id(4)] public byte[]? Confidence { get; init; }
}

[RegisterConverter]
public sealed class DraftMessageSurrogateConverter : IConverter<DraftMessage, DraftMessageSurrogate>
{
    public DraftMessage ConvertFromSurrogate(in DraftMessageSurrogate s) => new(s.Step, s.CommittedLength, s.Tokens, s.Parents, s.Confidence);

    public DraftMessageSurrogate ConvertToSurrogate(in DraftMessage m) => new()
    {
        Step = m.Step, CommittedLength = m.CommittedLength, Tokens = m.Tokens, Parents = m.Parents, Confidence = m.Confidence,
    };
}

[GenerateSerializer, Immutable, Alias("specedge.VerdictMessage")]
public readonly struct VerdictMessageSurrogate
{
    [Id(0)] public long Step { get; init; }
    [Id(1)] public int[] AcceptedTokens { get; init; }
    [Id(2)] public bool Finished { get; init; }
    [Id(3)] public TokenLogprob[]? Logprobs { get; init; }
    [Id(4)] public int ServerSteps { get; init; }
}

[RegisterConverter]
public sealed class VerdictMessageSurrogateConverter : IConverter<VerdictMessage, VerdictMessageSurrogate>
{
    public VerdictMessage ConvertFromSurrogate(in VerdictMessageSurrogate s) => new(s.Step, s.AcceptedTokens, s.Finished, s.Logprobs, s.ServerSteps);

    public VerdictMessageSurrogate ConvertToSurrogate(in VerdictMessage m) => new()
    {
        Step = m.Step, AcceptedTokens = m.AcceptedTokens, Finished = m.Finished, Logprobs = m.Logprobs, ServerSteps = m.ServerSteps,
    };
}

[GenerateSerializer, Immutable, Alias("specedge.TokenLogprob")]
public readonly struct TokenLogprobSurrogate
{
    [Id(0)] public int Token { get; init; }
    [Id(1)] public double Logprob { get; init; }
    [Id(2)] public int[] TopTokens { get; init; }
    [Id(3)] public double[] TopLogprobs { get; init; }
}

[RegisterConverter]
public sealed class TokenLogprobSurrogateConverter : IConverter<TokenLogprob, TokenLogprobSurrogate>
{
    public TokenLogprob ConvertFromSurrogate(in TokenLogprobSurrogate s) => new(s.Token, s.Logprob, s.TopTokens, s.TopLogprobs);

    public TokenLogprobSurrogate ConvertToSurrogate(in TokenLogprob l) => new()
    {
        Token = l.Token, Logprob = l.Logprob, TopTokens = l.TopTokens, TopLogprobs = l.TopLogprobs,
    };
}
