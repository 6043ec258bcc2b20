namespace SpecEdge.Persistence.Tests;

[GenerateSerializer, Immutable]
public sealed record SampleCheckpoint([property: Id(0)] int Step, [property: Id(1)] string Label, [property: Id(2)] int[] Accepted);
