namespace SpecEdge.Benchmarks.Capacity;

/// <summary>Seconds one batched target forward takes on the server device, for the items batched into it.</summary>
public interface IVerifyCost
{
    double Seconds(IReadOnlyList<VerifyItem> batch);
}
