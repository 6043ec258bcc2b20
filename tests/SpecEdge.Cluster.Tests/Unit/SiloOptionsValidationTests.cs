using SpecEdge.Grains.Hosting;
using SpecEdge.Inference.Speculative;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>The verifier's batching, trimming and prefix cache options: no cap by default, and values that make no sense refused by name.</summary>
[Trait("Kind", "unit")]
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
    [InlineData("PrefixCacheBlockTokens")]
    [InlineData("PrefixCacheShare")]
    [InlineData("PublicPrefixes:0")]
    [InlineData("FairForwardStretch")]
    [InlineData("HandBackSteps")]
    [InlineData("HandBackMaxMilliseconds")]
    public void NonsensicalBatchingOrTrimming_IsRefusedByName(string option)
    {
        var o = Options(o =>
        {
            switch (option)
            {
                case "MaxBatch": o.MaxBatch = -1; break;
                case "TreeTrimming": o.TreeTrimming = (TrimMode)7; break;
                case "ForcedTreeNodes": o.ForcedTreeNodes = o.MaxTreeNodes + 1; break;
                case "PrefixCacheBlockTokens": o.PrefixCacheBlockTokens = -32; break;
                case "PrefixCacheShare": o.PrefixCacheShare = double.NaN; break;
                case "PublicPrefixes:0": o.PublicPrefixes.Add(""); break;
                case "FairForwardStretch": o.FairForwardStretch = 0.5; break;     // below one round: a forward could hold no one
                case "HandBackSteps": o.HandBackSteps = -1; break;
                case "HandBackMaxMilliseconds": o.HandBackMaxMilliseconds = double.PositiveInfinity; break;   // would hold the session's callers without end
            }
        });
        var e = Assert.Throws<InvalidOperationException>(o.Validate);
        Assert.Contains($"SpecEdge:{option}", e.Message);
    }
}
