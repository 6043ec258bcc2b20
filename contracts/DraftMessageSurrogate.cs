using SpecEdge.Protocol;

namespace SpecEdge.Contracts;

/// <summary>
/// How Orleans carries a <see cref="DraftMessage"/>, which the inference library builds and verifies and which must not
/// depend on Orleans: the same fields, copied by reference (the arrays are not copied).
/// </summary>
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
