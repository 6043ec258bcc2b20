using SpecEdge.Grains.Hosting;
using SpecEdge.Inference.Speculative;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>The verifier's batching and trimming options: no cap by default, and values that make no sense refused by name.</summary>
public class SiloOptionsValidationTests
{
    private static SpecEdgeSiloOptions Options(Action<SpecEdgeSiloOptions> change)
    {
        var o = new SpecEdgeSiloOptions { TargetModel = Path.GetTempPath() };
        change(o);
        return o;
    }

    [Fact]
    public void ByDefault_TheBatchHasNoCap_AndTreesAreTrimmedForGoodput()
    {
        var o = Options(_ => { });
        o.Validate();
        Assert.Equal(0, o.MaxBatch);
        Assert.Equal(TrimMode.Goodput, o.TreeTrimming);
    }

    [Theory]
    [InlineData("MaxBatch")]
    [InlineData("TreeTrimming")]
    [InlineData("ForcedTreeNodes")]
    public void NonsensicalBatchingOrTrimming_IsRefusedByName(string option)
    {
        var o = Options(o =>
        {
            switch (option)
            {
                case "MaxBatch": o.MaxBatch = -1; break;
                case "TreeTrimming": o.TreeTrimming = (TrimMode)7; break;
                case "ForcedTreeNodes": o.ForcedTreeNodes = o.MaxTreeNodes + 1; break;
            }
        });
        var e = Assert.Throws<InvalidOperationException>(o.Validate);
        Assert.Contains($"SpecEdge:{option}", e.Message);
    }
}
