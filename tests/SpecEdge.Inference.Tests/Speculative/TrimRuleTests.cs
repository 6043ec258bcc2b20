using SpecEdge.Inference.Model;
using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;
using Xunit;

namespace SpecEdge.Inference.Tests.Speculative;

/// <summary>
/// The goodput rule on hand-made trees and cost lines: what it keeps when nodes are cheap, dear, or the device waits
/// anyway; that whatever an edge claims, a trimmed tree is a tree; and that the calibration and the cost line learn
/// what they are shown. No model: sequences are bare caches.
/// </summary>
[Collection("speculative")]
[Trait("Kind", "unit")]
public class TrimRuleTests : IDisposable
{
    private readonly BareSequences _sequences = new();

    private VerifyWork Work(DraftMessage tree) => new(_sequences.New(tree.Tokens[0]), tree);

    /// <summary>A chain of <paramref name="probabilities"/>.Length nodes with these path probabilities.</summary>
    private static DraftMessage Chain(params double[] probabilities) => new(0, 3,
        Enumerable.Range(0, probabilities.Length + 1).Select(i => 10 + i).ToArray(),
        Enumerable.Range(-1, probabilities.Length + 1).ToArray(),
        new byte[] { 0 }.Concat(probabilities.Select(p => PathConfidence.Encode(Math.Log(p)))).ToArray());

    private static readonly double[] Falling = { 0.9, 0.8, 0.6, 0.4, 0.2, 0.05, 0.01, 0.002 };

    private int[] Kept(TrimRule rule, params DraftMessage[] trees)
    {
        var (works, _) = rule.Apply(trees.Select((t, i) => ($"s{i}", (TargetWork)Work(t))).ToList());
        return works.Select(w => ((VerifyWork)w).Tree.Tokens.Length - 1).ToArray();
    }

    [Fact]
    public void FreeTokens_KeepEveryNode_AndDearOnes_CutToTheRoot()
    {
        var none = new Dictionary<string, double[]?>();
        // A GPU below its knee: a token costs nothing, the whole tree goes.
        Assert.Equal(new[] { 8 }, Kept(new TrimRule(new ForwardCostModel.Line(10, 0.1, 0, 0.2), none, null), Chain(Falling)));
        // A token costs ten forwards' overhead, and a mask half a token: not even a 0.9 node pays, plain decoding.
        Assert.Equal(new[] { 0 }, Kept(new TrimRule(new ForwardCostModel.Line(0.1, 0, 1, 0.5), none, null), Chain(Falling)));
        // CPU-like: 1 ms a forward, 0.1 ms a token, 0.3 ms for the mask: the likely nodes pay, the long tail does not.
        int kept = Kept(new TrimRule(new ForwardCostModel.Line(1, 0, 0.1, 0.3), none, null), Chain(Falling))[0];
        Assert.InRange(kept, 2, 5);
        // The same device, waiting 15 ms for the edge anyway: nearly everything pays.
        Assert.True(Kept(new TrimRule(new ForwardCostModel.Line(1, 0, 0.1, 0.3), none, null) { TurnaroundMs = 15 }, Chain(Falling))[0] > kept);
    }

    [Fact]
    public void ASlowEdge_HandsBackItsOwnSession_AndNoOtherOne()
    {
        // Two identical trees on a device with time to spare (1 ms forwards): one edge back in 0.5 ms, the other in 400 ms.
        var line = new ForwardCostModel.Line(1, 0, 0.1, 0.3);
        List<(string, TargetWork)> Forward() => new() { ("fast", Work(Chain(Falling))), ("slow", Work(Chain(Falling))) };
        var alone = new TrimRule(line, new Dictionary<string, double[]?>(), null) { TurnaroundMs = 0.5 };
        var (works, _, pays) = alone.ApplyWithHandBacks(Forward());
        Assert.Equal(new[] { false, false }, pays);       // at 0.5 ms both edges' loops beat plain steps on the server
        var (mixedWorks, _, mixed) = (alone with { Turnarounds = new Dictionary<string, double> { ["slow"] = 400 } }).ApplyWithHandBacks(Forward());
        // Each session priced by its own edge: the slow one goes to the server, its neighbour keeps its loop.
        Assert.Equal(new[] { false, true }, mixed);
        // Trimming prices nodes with the forward's typical turnaround, not the slow edge's.
        Assert.Equal(works.Select(w => ((VerifyWork)w).Tree.Tokens.Length), mixedWorks.Select(w => ((VerifyWork)w).Tree.Tokens.Length));
        // Priced with the slow edge's turnaround for everyone (one figure for the device), the fast session went too.
        Assert.Equal(new[] { true, true }, (alone with { TurnaroundMs = 400 }).ApplyWithHandBacks(Forward()).ServerPays);
    }

    [Fact]
    public void EachTree_KeepsWhatItsOwnNodesEarn_AndTreesWithoutProbabilities_GoWhole()
    {
        var line = new ForwardCostModel.Line(1, 0, 0.1, 0.3);
        var old = new DraftMessage(0, 3, new[] { 10, 11, 12, 13 }, new[] { -1, 0, 1, 2 });     // an older edge: no confidence
        var poor = Chain(0.1, 0.01, 0.001, 0.0001);
        var (works, verified) = new TrimRule(line, new Dictionary<string, double[]?>(), null).Apply(new List<(string, TargetWork)>
            { ("a", Work(Chain(Falling))), ("b", Work(Chain(0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55))), ("c", Work(old)), ("d", Work(poor)) });
        int a = ((VerifyWork)works[0]).Tree.Tokens.Length - 1, b = ((VerifyWork)works[1]).Tree.Tokens.Length - 1, d = ((VerifyWork)works[3]).Tree.Tokens.Length - 1;
        // The better draft keeps more; the poor one's tree is cut to its root without cutting the others.
        Assert.True(b > a, $"the likelier tree kept {b} nodes, the other {a}");
        Assert.Equal(0, d);
        Assert.Equal(a, verified[0]);
        Assert.Same(old, ((VerifyWork)works[2]).Tree);
        Assert.Equal(-1, verified[2]);
    }

    [Fact]
    public void GoodputCut_FindsTheBestPrefixes_AsAnExhaustiveSearchDoes()
    {
        var random = new Random(4);
        for (int trial = 0; trial < 200; trial++)
        {
            int trees = 1 + random.Next(3);
            var cumulative = Enumerable.Range(0, trees).Select(_ =>
            {
                var p = new double[1 + random.Next(5)];
                double q = 1;
                for (int k = 1; k < p.Length; k++) { q *= random.NextDouble(); p[k] = p[k - 1] + q; }
                return p;
            }).ToList();
            double baseCost = 0.5 + random.NextDouble() * 3, mask = random.NextDouble(), price = random.NextDouble() * 0.6, wait = random.Next(3) == 0 ? 5 : 0;
            double Goodput(int[] j) => (trees + j.Select((x, t) => cumulative[t][x]).Sum()) / (wait + baseCost + (j.Sum() > 0 ? mask : 0) + price * j.Sum());
            // Every combination of prefixes.
            double best = 0;
            void Search(int t, int[] j)
            {
                if (t == trees) { best = Math.Max(best, Goodput(j)); return; }
                for (int x = 0; x < cumulative[t].Length; x++) { j[t] = x; Search(t + 1, j); }
            }
            Search(0, new int[trees]);
            var cut = GoodputCut.Best(cumulative, trees, baseCost, mask, price, wait);
            Assert.True(Goodput(cut) >= best - 1e-9, $"trial {trial}: {Goodput(cut):F6} < optimum {best:F6}");
            // With a price for the longest prefix (padding), against the same search with that price in the goodput.
            double pad = random.NextDouble() * 0.3;
            double Padded(int[] j) => (trees + j.Select((x, t) => cumulative[t][x]).Sum()) /
                (wait + baseCost + pad * j.DefaultIfEmpty(0).Max() + (j.Sum() > 0 ? mask : 0) + price * j.Sum());
            double bestPadded = 0;
            void SearchPadded(int t, int[] j)
            {
                if (t == trees) { bestPadded = Math.Max(bestPadded, Padded(j)); return; }
                for (int x = 0; x < cumulative[t].Length; x++) { j[t] = x; SearchPadded(t + 1, j); }
            }
            SearchPadded(0, new int[trees]);
            var padded = GoodputCut.Best(cumulative, trees, baseCost, mask, price, wait, m => pad * m);
            Assert.True(Padded(padded) >= bestPadded - 1e-9, $"trial {trial}, padded: {Padded(padded):F6} < optimum {bestPadded:F6}");
        }
    }

    [Fact]
    public void WhateverAnEdgeClaims_TheTrimmedTreeIsATree()
    {
        // Not best first, a child claiming more than its parent, certainty claimed: any cut is still a tree of the nodes as
        // sent (parents first; each node under the same parent as sent), whatever order the rule put them in.
        var tree = new DraftMessage(0, 3, new[] { 10, 11, 12, 13, 14, 15 }, new[] { -1, 0, 0, 2, 1, 3 }, new byte[] { 0, 200, 0, 0, 0, 0 });
        foreach (var rule in new[] { new TrimRule(new ForwardCostModel.Line(1, 0, 0.1, 0.3), new Dictionary<string, double[]?>(), null), new TrimRule(null, new Dictionary<string, double[]?>(), 3) })
        {
            var (works, _) = rule.Apply(new List<(string, TargetWork)> { ("s", Work(tree)) });
            var cut = ((VerifyWork)works[0]).Tree;
            Assert.Equal(10, cut.Tokens[0]);
            for (int i = 1; i < cut.Tokens.Length; i++)
            {
                Assert.InRange(cut.Parents[i], 0, i - 1);
                int original = Array.IndexOf(tree.Tokens, cut.Tokens[i]);
                Assert.Equal(tree.Tokens[tree.Parents[original]], cut.Tokens[cut.Parents[i]]);
            }
        }
        var forced = new TrimRule(null, new Dictionary<string, double[]?>(), 3).Apply(new List<(string, TargetWork)> { ("s", Work(tree)) });
        Assert.Equal(new[] { 10, 11, 12, 13 }, ((VerifyWork)forced.Works[0]).Tree.Tokens);
        Assert.Throws<ArgumentException>(() => TrimRule.Keep(tree, new[] { true, false, false, true, false, false }));
    }

    [Fact]
    public void Calibration_PricesAnOverconfidentEdge_AtWhatItDelivers()
    {
        var trimmer = new TreeTrimmer();
        for (int step = 0; step < 40; step++)
        {
            var claim = Chain(0.99, 0.98, 0.97, 0.96, 0.95, 0.94, 0.93, 0.92);
            // The target never agrees with this draft: every verdict is the bonus alone.
            trimmer.ObserveVerdict("liar", claim, new VerdictMessage(step, new[] { 999 }, false));
            trimmer.ObserveVerdict("honest", Chain(Falling), new VerdictMessage(step, new[] { 11, 12, 13, 999 }, false));
        }
        for (int f = 0; f < 12; f++) trimmer.ObserveForward(new ForwardShape(1, 1 + f % 4 * 3, f % 4 != 0, 1 + f % 4 * 3), 1 + 0.1 * (1 + f % 4 * 3) + (f % 4 != 0 ? 0.3 : 0));
        var rule = trimmer.Rule(new[] { "liar", "honest" });
        // Claims of 92-99 % that never hold: this edge's likeliest children are worth what they earned, next to nothing.
        Assert.True(rule.Calibrations["liar"]![0] < 0.1, $"the liar's likeliest child is worth {rule.Calibrations["liar"]![0]:P1}");
        // The honest draft's likeliest children were accepted 3 times in 4: that is their price.
        Assert.InRange(rule.Calibrations["honest"]![0], 0.7, 0.8);
        var liar = new TrimRule(rule.Cost, rule.Calibrations, null).Apply(new List<(string, TargetWork)> { ("liar", Work(Chain(0.99, 0.98, 0.97, 0.96))) });
        Assert.Equal(0, ((VerifyWork)liar.Works[0]).Tree.Tokens.Length - 1);
    }

    [Fact]
    public void Calibration_KeepsLearning_WhileTheTreeIsCutToItsRoot()
    {
        // A draft right every time but claiming 5 %: cut to plain decoding, each verdict's one token still shows its first
        // node would have been accepted, so its price rises and the nodes come back.
        var trimmer = new TreeTrimmer();
        var under = Chain(0.05, 0.0025, 0.000125);
        for (int step = 0; step < 30; step++) trimmer.ObserveVerdict("shy", under, new VerdictMessage(step, new[] { 11 }, false));
        Assert.Empty(trimmer.Rule(new[] { "shy" }).Calibrations);     // no cost line yet: whole trees, nothing to calibrate
        for (int f = 0; f < 12; f++) trimmer.ObserveForward(new ForwardShape(1, 1 + f % 4 * 3, f % 4 != 0, 1 + f % 4 * 3), 1 + 0.1 * (1 + f % 4 * 3) + (f % 4 != 0 ? 0.3 : 0));
        var rule = trimmer.Rule(new[] { "shy" });
        Assert.True(rule.Calibrations["shy"]![0] > 0.8, $"a likeliest child claimed at 5 % is worth {rule.Calibrations["shy"]![0]:P0}");
        // Only the first node's fate was settled each time (its children wait on unseen tokens): it alone was priced.
        var (works, _) = rule.Apply(new List<(string, TargetWork)> { ("shy", Work(Chain(0.05, 0.0025, 0.000125))) });
        Assert.True(((VerifyWork)works[0]).Tree.Tokens.Length > 1, "the first node pays again");
    }

    [Fact]
    public void CostModel_LearnsItsTerms_AndSaysSoOnlyWhenItCan()
    {
        var model = new ForwardCostModel();
        for (int i = 0; i < 20; i++) model.Observe(new ForwardShape(4, 4, false, 1), 2.08);
        Assert.Null(model.Current);                            // one token count: a token's price is unknown
        var random = new Random(2);
        for (int i = 0; i < 300; i++)
        {
            // Uneven trees: each sequence 0-5 nodes, so tokens and padded rows differ.
            int sequences = 1 + random.Next(8);
            var sizes = Enumerable.Range(0, sequences).Select(_ => 1 + random.Next(6)).ToArray();
            var shape = new ForwardShape(sequences, sizes.Sum(), sizes.Max() > 1, sizes.Max());
            model.Observe(shape, 1.0 + 0.2 * sequences + 0.05 * shape.Tokens + 0.02 * shape.Padded + (shape.Masked ? 0.4 : 0) + (random.NextDouble() - 0.5) * 0.01);
        }
        var line = model.Current!.Value;
        Assert.Equal(1.0, line.FixedMs, 1);
        Assert.Equal(0.2, line.PerSequenceMs, 2);
        Assert.Equal(0.05, line.PerTokenMs, 2);
        Assert.Equal(0.02, line.PerPaddedRowMs, 2);
        Assert.Equal(0.4, line.MaskedMs, 1);
    }

    [Fact]
    public void Probing_RunsTreesOfSeveralSizes_UntilTheCostLineIsKnown_ThenRefreshesThePlainPrice()
    {
        var trimmer = new TreeTrimmer();
        var sizes = new List<int?>();
        for (int f = 0; f < 16 && trimmer.CostLine is null; f++)
        {
            var rule = trimmer.Rule(new[] { "s" });
            sizes.Add(rule.ForcedNodes);
            Assert.Equal(rule.ForcedNodes is not null, rule.Probe);
            int tokens = rule.ForcedNodes is int n ? n + 1 : 33;
            trimmer.ObserveForward(new ForwardShape(1, tokens, tokens > 1, tokens), 1 + 0.1 * tokens);
        }
        // Whole trees until the first forwards show they cannot teach the line, then probes.
        Assert.All(sizes.Take(ForwardCostModel.MinForwards), s => Assert.Null(s));
        Assert.Contains(8, sizes);
        Assert.Contains(2, sizes);
        Assert.NotNull(trimmer.CostLine);
        Assert.Equal(0.1, trimmer.CostLine!.Value.PerTokenMs, 3);
        for (int f = 0; f < TreeTrimmer.PlainProbeEvery; f++) trimmer.ObserveForward(new ForwardShape(1, 5, true, 5), 1.5);
        var refresh = trimmer.Rule(new[] { "s" });
        Assert.Equal(0, refresh.ForcedNodes);
        // A probe is not a budget: the verdict says the tree went whole, so the edge keeps drafting as before.
        var (_, verified) = refresh.Apply(new List<(string, TargetWork)> { ("s", Work(Chain(Falling))) });
        Assert.Equal(-1, verified[0]);
    }

    public void Dispose() => _sequences.Dispose();
}
