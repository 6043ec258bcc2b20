namespace SpecEdge.Contracts;

/// <summary>A tree the session refused, and why. The conversation is unchanged by it.</summary>
[GenerateSerializer, Immutable, Alias("specedge.TreeRejection")]
public sealed record TreeRejection(
    [property: Id(0)] string SessionId,
    [property: Id(1)] long Step,
    [property: Id(2)] string Error);
