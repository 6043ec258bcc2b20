using SpecEdge.Inference.Sampling;
using Xunit;

namespace SpecEdge.Inference.Tests.Sampling;

public class SamplerTests
{
    // ln of probabilities 0.5, 0.25, 0.15, 0.1: softmax at T=1 gives them back exactly.
    private static readonly float[] Logits = { MathF.Log(0.5f), MathF.Log(0.25f), MathF.Log(0.15f), MathF.Log(0.1f) };

    [Fact]
    public void Greedy_PicksArgMaxAndLowestIdOnTies()
    {
        Assert.Equal(2, Sampler.Sample(new float[] { 0, 1, 3, 3 }, SamplingParams.Greedy, new SampleRng(0)));
    }

    [Fact]
    public void TopK_KeepsTheKMostLikelyRenormalised()
    {
        var p = Sampler.Probabilities(Logits, new SamplingParams(Temperature: 1, TopK: 2));
        Assert.Equal(new[] { 2 / 3.0, 1 / 3.0, 0, 0 }.Select(x => Math.Round(x, 5)), p.Select(x => Math.Round(x, 5)));
    }

    [Theory]
    [InlineData(0.5, new[] { 1.0, 0, 0, 0 })]            // 0.5 alone reaches 0.5
    [InlineData(0.6, new[] { 2 / 3.0, 1 / 3.0, 0, 0 })]  // needs 0.5 + 0.25
    [InlineData(0.8, new[] { 0.5 / 0.9, 0.25 / 0.9, 0.15 / 0.9, 0 })]
    [InlineData(1.0, new[] { 0.5, 0.25, 0.15, 0.1 })]
    public void TopP_KeepsTheSmallestNucleusReachingP(double topP, double[] expected)
    {
        var p = Sampler.Probabilities(Logits, new SamplingParams(Temperature: 1, TopP: topP));
        Assert.Equal(expected.Select(x => Math.Round(x, 5)), p.Select(x => Math.Round(x, 5)));
    }

    [Fact]
    public void Temperature_SharpensTheDistribution()
    {
        var p = Sampler.Probabilities(Logits, new SamplingParams(Temperature: 0.5));
        // p_i^2 / sum p_j^2
        double z = 0.25 + 0.0625 + 0.0225 + 0.01;
        Assert.Equal(new[] { 0.25 / z, 0.0625 / z, 0.0225 / z, 0.01 / z }.Select(x => Math.Round(x, 5)), p.Select(x => Math.Round(x, 5)));
    }

    [Fact]
    public void SeededDraws_AreReproducibleAndResumable()
    {
        var settings = new SamplingParams(Temperature: 1);
        var a = new SampleRng(42);
        var first = Enumerable.Range(0, 50).Select(_ => Sampler.Sample(Logits, settings, a)).ToArray();
        var b = new SampleRng(42);
        Assert.Equal(first, Enumerable.Range(0, 50).Select(_ => Sampler.Sample(Logits, settings, b)).ToArray());
        var resumed = new SampleRng(42, position: 20);
        Assert.Equal(first[20..], Enumerable.Range(0, 30).Select(_ => Sampler.Sample(Logits, settings, resumed)).ToArray());
        Assert.NotEqual(first, Enumerable.Range(0, 50).Select(_ => Sampler.Sample(Logits, settings, new SampleRng(43))).ToArray());
    }

    [Fact]
    public void Draws_FollowTheFilteredDistribution()
    {
        var settings = new SamplingParams(Temperature: 1, TopK: 3);
        var rng = new SampleRng(7);
        var counts = new int[4];
        const int n = 40000;
        for (int i = 0; i < n; i++) counts[Sampler.Sample(Logits, settings, rng)]++;
        Assert.Equal(0, counts[3]);
        // expected 0.5/0.9, 0.25/0.9, 0.15/0.9; 5 standard errors at n=40000 is < 0.013
        Assert.InRange(counts[0] / (double)n, 0.5 / 0.9 - 0.013, 0.5 / 0.9 + 0.013);
        Assert.InRange(counts[2] / (double)n, 0.15 / 0.9 - 0.01, 0.15 / 0.9 + 0.01);
    }
}
