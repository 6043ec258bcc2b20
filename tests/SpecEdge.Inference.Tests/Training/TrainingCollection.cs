using Xunit;

namespace SpecEdge.Inference.Tests.Training;

/// <summary>
/// Training tests run alone, not beside other test classes. TorchSharp's optimizers create temporary scalars that
/// nothing keeps alive through their native calls (our own code keeps its own: <c>inference/KeptScalars.cs</c>); a
/// garbage collection started by another test's thread mid-call can finalize one and corrupt the call (seen once
/// under CI-like load in the distillation test). Alone, a collection can only start between this thread's own calls.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TrainingCollection
{
    public const string Name = "training";
}
