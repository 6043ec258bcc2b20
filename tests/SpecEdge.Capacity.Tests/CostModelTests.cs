using SpecEdge.Benchmarks.Capacity;
using Xunit;

namespace SpecEdge.Capacity.Tests;

/// <summary>Roofline counts against hand-computed ones, and the fitted cost model against known coefficients.</summary>
[Trait("Kind", "unit")]
public class CostModelTests
{
    // 2 layers, hidden 4, 2 heads of 2 dims, 1 KV head, MLP 8, vocabulary 10, tied embeddings.
    private static readonly ModelShape Tiny = new("tiny", 2, 4, 2, 1, 2, 8, 10, TiedEmbeddings: true);

    [Fact]
    public void Roofline_TinyShape_CountsHandComputedBytesAndFlops()
    {
        // Layer: q 4x4 + k,v 2x(4x2) + o 4x4 + MLP 3x(4x8) + norms 2x4 + q/k norms 2x2 = 16+16+16+96+8+4 = 156.
        Assert.Equal(156, Tiny.LayerParameters);
        Assert.Equal(2 * 156 + 4 + 40, Tiny.Parameters);
        Assert.Equal((2 * 156 + 4 + 40) * 2, Tiny.WeightBytesRead);          // bf16; the tied table is the head
        Assert.Equal(2 * 2 * 1 * 2 * 2, Tiny.KvBytesPerToken);               // K and V, 2 layers, 1 head of 2, 2 bytes
        // 3 tokens on 5 cached: 2 x 3 x (2 x 156 + 40) + 4 x 2 layers x 2 heads x 2 dims x 3 x (5 + 3) = 2112 + 768.
        Assert.Equal(2880, Tiny.Flops(3, 5), 9);

        var device = new HardwareSpec("toy", BandwidthBytesPerSecond: 1000, PeakFlopsPerSecond: 1000, MemoryBytes: 1e6, DollarsPerHour: 1, Source: "test");
        var cost = new RooflineCost(Tiny, device, LaunchOverheadSeconds: 0.5);
        var batch = new[] { new VerifyItem(3, 5) };
        Assert.Equal(712 + 8 * 16, cost.Bytes(batch), 9);                    // weights once + KV of 8 positions
        Assert.Equal(2880 / 1000.0 + 0.5, cost.Seconds(batch), 9);           // compute-bound here
        var fastMath = cost with { Device = device with { PeakFlopsPerSecond = 1e9 } };
        Assert.Equal(840 / 1000.0 + 0.5, fastMath.Seconds(batch), 9);        // memory-bound once FLOPs are cheap
    }

    [Fact]
    public void Qwen3Shapes_MatchTheirPublishedParameterCounts()
    {
        // Model cards: Qwen3-14B 14.8 B parameters (13.2 B non-embedding), Qwen3-1.7B 1.7 B (1.4 B non-embedding).
        Assert.Equal(14_768_307_200, ModelShape.Qwen3_14B.Parameters);
        Assert.Equal(13_212_477_440, ModelShape.Qwen3_14B.Layers * ModelShape.Qwen3_14B.LayerParameters);
        Assert.Equal(1_720_574_976, ModelShape.Qwen3_1_7B.Parameters);
        Assert.Equal(1_409_408_000, ModelShape.Qwen3_1_7B.Layers * ModelShape.Qwen3_1_7B.LayerParameters);
        Assert.Equal(163_840, ModelShape.Qwen3_14B.KvBytesPerToken);        // 2 x 40 layers x 8 heads x 128 x 2 bytes
    }

    [Fact]
    public void Roofline_Qwen3_14B_OnA100_OneTokenIsMemoryBound()
    {
        var cost = new RooflineCost(ModelShape.Qwen3_14B, HardwareSpec.A100Sxm80, 0);
        var one = new[] { new VerifyItem(1, 0) };
        // 14.77 B parameters less the 0.78 B untied embedding table (gathered, not read) at 2 bytes, plus the new token's
        // K and V, over 2.039 TB/s.
        Assert.Equal(((14_768_307_200 - 777_912_320) * 2 + 163_840) / 2.039e12, cost.Seconds(one), 12);
        Assert.True(cost.Flops(one) / HardwareSpec.A100Sxm80.PeakFlopsPerSecond < cost.Seconds(one) / 100);
    }

    [Fact]
    public void LinearFit_RecoversKnownCoefficients()
    {
        var truth = new LinearVerifyCost(0.003, 0.0005, 0.0001, 2e-7);
        var samples = new List<(IReadOnlyList<VerifyItem>, double)>();
        foreach (int b in new[] { 1, 2, 4, 8 })
            foreach (int n in new[] { 1, 33 })
                foreach (int ctx in new[] { 16, 96 })
                {
                    var batch = Enumerable.Repeat(new VerifyItem(n, ctx), b).ToList();
                    samples.Add((batch, truth.Seconds(batch)));
                }
        var fit = LinearVerifyCost.Fit(samples);
        Assert.Equal(truth.Fixed, fit.Fixed, 9);
        Assert.Equal(truth.PerSequence, fit.PerSequence, 9);
        Assert.Equal(truth.PerToken, fit.PerToken, 9);
        Assert.Equal(truth.PerTokenContext, fit.PerTokenContext, 12);
    }

    [Fact]
    public void LinearFit_NeverKeepsANegativeCoefficient()
    {
        // Costs that fall with batch size (noise on a loaded machine) would fit a negative per-sequence term.
        var samples = new List<(IReadOnlyList<VerifyItem>, double)>
        {
            (new[] { new VerifyItem(1, 10) }, 0.010), (Enumerable.Repeat(new VerifyItem(1, 10), 4).ToList(), 0.008),
            (new[] { new VerifyItem(33, 10) }, 0.020), (Enumerable.Repeat(new VerifyItem(33, 10), 4).ToList(), 0.050),
            (new[] { new VerifyItem(1, 90) }, 0.011), (Enumerable.Repeat(new VerifyItem(33, 90), 2).ToList(), 0.040),
        };
        var fit = LinearVerifyCost.Fit(samples);
        Assert.True(fit.Fixed >= 0 && fit.PerSequence >= 0 && fit.PerToken >= 0 && fit.PerTokenContext >= 0, fit.ToString());
    }

    [Fact]
    public void PerDepthAcceptance_SampleMeanMatchesItsFormula()
    {
        var model = AcceptanceModel.PerDepth(0.8, 4);
        Assert.Equal(1 + 0.8 + 0.64 + 0.512 + 0.4096, model.Mean, 12);
        var random = new Random(3);
        double mean = Enumerable.Range(0, 200_000).Average(_ => model.Sample(random));
        Assert.InRange(mean, model.Mean - 0.01, model.Mean + 0.01);
    }

    [Fact]
    public void SessionSearch_FindsTheLastCountUnderTheTarget()
    {
        // ITL grows by 1 ms per session: the most sessions at <= 37.5 ms is 37.
        var result = SessionSearch.MaxSessions(n => new SimulationResult(n, 1, 1, 1, 1, 0, n, n, n, 0, 1, 1), 37.5, 1000);
        Assert.Equal(37, result);
        Assert.Equal(10, SessionSearch.MaxSessions(n => new SimulationResult(n, 1, 1, 1, 1, 0, n, n, n, 0, 1, 1), 37.5, 10));
    }
}
