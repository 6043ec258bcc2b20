namespace SpecEdge.Persistence.Tests;

/// <summary>A state shaped like the real ones: plain class, public properties, collections, a nested record.</summary>
[GenerateSerializer]
public sealed class SampleState
{
    [Id(0)] public string Name { get; set; } = "";
    [Id(1)] public long Counter { get; set; }
    [Id(2)] public List<int> TokenIds { get; set; } = [];
    [Id(3)] public long[] Offsets { get; set; } = [];
    [Id(4)] public SampleCheckpoint? Checkpoint { get; set; }
    [Id(5)] public List<SampleCheckpoint> History { get; set; } = [];
}
