using SpecEdge.Inference.Sampling;
using Xunit;

namespace SpecEdge.Inference.Tests.Sampling;

[Trait("Kind", "unit")]
public class SamplerTests
{
    // ln of probabilities 0.5, 0.25, 0.15, 0.1: softmax at T=1 gives them back exactly.
    private static readonly float[] Logits = { MathF.Log(0.5f), MathF.Log(0.25f), MathF.Log(0.15f), MathF.Log(0.1f) };

    [Fact]
    public void Greedy_PicksArgMaxAndLowestIdOnTies()
    {
        Assert.Equal(2, Sampler.Sample(new float[] { 0, 1, 3, 3 }, SamplingParams.Greedy, 0.5));
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

    [Theory]
    [InlineData(0.28, 0, 1.0, new[] { 0.5 / 0.9, 0.25 / 0.9, 0.15 / 0.9, 0 })]  // keeps p >= 0.14: the third, not the fourth
    [InlineData(0.6, 0, 1.0, new[] { 1.0, 0, 0, 0 })]                        // keeps p >= 0.3
    [InlineData(0.25, 2, 1.0, new[] { 2 / 3.0, 1 / 3.0, 0, 0 })]             // top-k the tighter of the two
    [InlineData(0.25, 0, 0.6, new[] { 2 / 3.0, 1 / 3.0, 0, 0 })]             // the nucleus over what min-p kept
    public void MinP_DropsTokensLessLikelyThanAFractionOfTheMostLikely(double minP, int topK, double topP, double[] expected)
    {
        var p = Sampler.Probabilities(Logits, new SamplingParams(Temperature: 1, TopK: topK, TopP: topP) { MinP = minP });
        Assert.Equal(expected.Select(x => Math.Round(x, 5)), p.Select(x => Math.Round(x, 5)));
    }

    [Fact]
    public void SampleRows_WithMinP_EqualsScalarSampleWithTheSameDraws()
    {
        var random = new Random(23);
        const int rows = 48, vocab = 257;
        var logits = new float[rows * vocab];
        for (int i = 0; i < logits.Length; i++) logits[i] = (float)(random.NextDouble() * 8 - 4);
        var settings = Enumerable.Range(0, rows).Select(r => new SamplingParams(0.9, r % 3 == 0 ? 40 : 0, r % 2 == 0 ? 0.9 : 1.0, Seed: (ulong)r)
            { MinP = new[] { 0.02, 0.1, 0.4 }[r % 3] }).ToArray();
        var positions = Enumerable.Range(0, rows).Select(r => (long)(r * 7 + 1)).ToArray();
        using var tensor = TorchSharp.torch.tensor(logits).view(rows, vocab);
        var device = DeviceSampler.SampleRows(tensor, settings, positions);
        for (int r = 0; r < rows; r++)
        {
            int expected = Sampler.Sample(logits.AsSpan(r * vocab, vocab), settings[r], new SampleRng(settings[r].Seed).At(positions[r]));
            Assert.True(expected == device[r], $"row {r}: scalar {expected}, device {device[r]}");
        }
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
    public void Draws_AreKeyedBySeedAndPositionOnly()
    {
        var a = new SampleRng(42);
        var forward = Enumerable.Range(0, 200).Select(i => a.At(i)).ToArray();
        // Any order of asking, any other instance: the draw for a position never changes.
        var backward = Enumerable.Range(0, 200).Reverse().Select(i => new SampleRng(42).At(i)).Reverse().ToArray();
        Assert.Equal(forward, backward);
        Assert.All(forward, u => Assert.InRange(u, 0.0, 0.9999999999));
        Assert.Equal(200, forward.Distinct().Count());
        // Another seed (even a neighbouring one) gives other draws at the same positions.
        var other = Enumerable.Range(0, 200).Select(i => new SampleRng(43).At(i)).ToArray();
        Assert.True(forward.Zip(other).Count(x => x.First == x.Second) == 0, "seeds 42 and 43 share draws");
        Assert.InRange(forward.Average(), 0.4, 0.6);
    }

    [Fact]
    public void SampleRows_UsesTheDrawOfEachRowsPosition()
    {
        var settings = new SamplingParams(Temperature: 1, Seed: 9);
        using var logits = TorchSharp.torch.tensor(Logits.Concat(Logits).Concat(Logits).ToArray()).reshape(3, Logits.Length);
        var rows = Sampler.SampleRows(logits, settings, new long[] { 5, 5, 17 });
        var rng = new SampleRng(9);
        Assert.Equal(Sampler.Sample(Logits, settings, rng.At(5)), rows[0]);
        Assert.Equal(rows[0], rows[1]);   // same position, same logits: same token, whatever the row
        Assert.Equal(Sampler.Sample(Logits, settings, rng.At(17)), rows[2]);
    }

    [Fact]
    public void Draws_FollowTheFilteredDistribution()
    {
        var settings = new SamplingParams(Temperature: 1, TopK: 3);
        var rng = new SampleRng(7);
        var counts = new int[4];
        const int n = 40000;
        for (int i = 0; i < n; i++) counts[Sampler.Sample(Logits, settings, rng.At(i))]++;
        Assert.Equal(0, counts[3]);
        // expected 0.5/0.9, 0.25/0.9, 0.15/0.9; 5 standard errors at n=40000 is < 0.013
        Assert.InRange(counts[0] / (double)n, 0.5 / 0.9 - 0.013, 0.5 / 0.9 + 0.013);
        Assert.InRange(counts[2] / (double)n, 0.15 / 0.9 - 0.01, 0.15 / 0.9 + 0.01);
    }
}

/// <summary>
/// DeviceSampler (all rows in one call, on the logits' device) against the scalar definition, Sampler.Sample, with
/// the same position-keyed draws: every row of every setting must pick the same id.
/// </summary>
[Trait("Kind", "unit")]
public class DeviceSamplerTests
{
    public static TheoryData<double, int, double> Settings => new()
    {
        { 1.0, 0, 1.0 }, { 0.7, 0, 1.0 }, { 1.3, 40, 1.0 }, { 0.8, 0, 0.9 }, { 1.0, 50, 0.95 }, { 2.0, 3, 0.5 }, { 0.05, 0, 0.99 },
    };

    [Theory]
    [MemberData(nameof(Settings))]
    public void SampleRows_EqualsScalarSampleWithTheSameDraws(double temperature, int topK, double topP)
    {
        var random = new Random(17);
        const int rows = 64, vocab = 301;
        var logits = new float[rows * vocab];
        for (int i = 0; i < logits.Length; i++) logits[i] = (float)(random.NextDouble() * 8 - 4);
        // Ties on purpose: the order among equal probabilities must be the scalar sampler's (lower id first).
        for (int r = 0; r < rows; r += 4) logits[r * vocab + 7] = logits[r * vocab + 9];
        var settings = Enumerable.Range(0, rows).Select(r => new SamplingParams(temperature, topK, topP, Seed: (ulong)(r % 5))).ToArray();
        var positions = Enumerable.Range(0, rows).Select(r => (long)(r * 13 + 2)).ToArray();

        using var tensor = TorchSharp.torch.tensor(logits).view(rows, vocab);
        var device = DeviceSampler.SampleRows(tensor, settings, positions);
        for (int r = 0; r < rows; r++)
        {
            int expected = Sampler.Sample(logits.AsSpan(r * vocab, vocab), settings[r], new SampleRng(settings[r].Seed).At(positions[r]));
            Assert.True(expected == device[r], $"row {r}: scalar {expected}, device {device[r]}");
        }
    }

    [Fact]
    public void SampleRows_MixedGreedyAndSampledRows_EachFollowsItsOwnSettings()
    {
        var random = new Random(5);
        const int rows = 6, vocab = 50;
        var logits = Enumerable.Range(0, rows * vocab).Select(_ => (float)random.NextDouble()).ToArray();
        var settings = new[] { SamplingParams.Greedy, new SamplingParams(1.0, Seed: 3), SamplingParams.Greedy, new SamplingParams(0.5, 5, 1.0, 9), new SamplingParams(1.0, 0, 0.3, 1), SamplingParams.Greedy };
        var positions = new long[] { 0, 1, 2, 3, 4, 5 };
        using var tensor = TorchSharp.torch.tensor(logits).view(rows, vocab);
        var device = DeviceSampler.SampleRows(tensor, settings, positions);
        for (int r = 0; r < rows; r++)
            Assert.Equal(Sampler.Sample(logits.AsSpan(r * vocab, vocab), settings[r], new SampleRng(settings[r].Seed).At(positions[r])), device[r]);
    }
}

/// <summary>DeviceTreeAcceptance against the rule's definition (TreeAcceptance) on random trees whose samples often match.</summary>
[Trait("Kind", "unit")]
public class DeviceTreeAcceptanceTests
{
    [Fact]
    public void Accept_ManyRandomTrees_EqualsTreeAcceptance()
    {
        var random = new Random(11);
        var trees = new List<(int[] Parents, int[] Tokens)>();
        var samples = new List<long>();
        for (int t = 0; t < 40; t++)
        {
            int n = 1 + random.Next(20);
            var parents = Enumerable.Range(0, n).Select(i => i == 0 ? -1 : random.Next(i)).ToArray();
            // Tokens from a tiny alphabet so that samples match often and paths get deep.
            var tokens = Enumerable.Range(0, n).Select(_ => random.Next(3)).ToArray();
            trees.Add((parents, tokens));
            samples.AddRange(Enumerable.Range(0, n).Select(_ => (long)random.Next(3)));
        }
        using var onDevice = TorchSharp.torch.tensor(samples.ToArray());
        var device = SpecEdge.Inference.Speculative.DeviceTreeAcceptance.Accept(trees, onDevice);
        int offset = 0;
        for (int t = 0; t < trees.Count; t++)
        {
            var (parents, tokens) = trees[t];
            var treeSamples = samples.Skip(offset).Take(tokens.Length).Select(x => (int)x).ToArray();
            var expected = SpecEdge.Inference.Speculative.TreeAcceptance.Accept(parents, tokens, treeSamples);
            Assert.Equal(expected.Path, device[t].Path);
            Assert.Equal(expected.Deepest, device[t].Deepest);
            Assert.Equal(expected.Bonus, device[t].Bonus);
            offset += tokens.Length;
        }
    }
}
