namespace SpecEdge.Inference.Speculative;

/// <summary>
/// The decision at the heart of goodput trimming, as a pure function so that the verifier and the capacity simulator
/// decide alike: how many nodes of each tree a forward verifies so that expected committed tokens per unit of time is
/// highest. A step's time is the forward's predicted cost (fixed part, a price per node, and the mask's price once any
/// tree keeps a node) plus what it waits anyway (see <see cref="TrimRule.WaitMs"/>). Each tree keeps a prefix of its
/// nodes (best first), as long as it pays on its own: a tree whose draft is poor does not cut another's that is good.
/// <para>
/// Ratio of sums, solved exactly by Dinkelbach's method: at goodput r, tree t keeps the prefix j maximising
/// expected(j) - r · price · j; r is then recomputed, which can only rise, until it no longer does (a few rounds). The
/// answer is compared with plain decoding (no node at all, no mask), which wins when nothing pays.
/// </para>
/// </summary>
public static class GoodputCut
{
    /// <summary>
    /// Idle share from which a device counts as having time to spare: a step's extra nodes then lengthen forwards into
    /// time the device would idle anyway, and only the user's wait is worth pricing.
    /// </summary>
    public const double SpareIdleShare = 0.25;

    /// <summary>
    /// The wait to price nodes against (see <see cref="TrimRule.WaitMs"/>): an edge's whole turnaround while its device
    /// idles at least <see cref="SpareIdleShare"/> of the time (latency is what is scarce), none when the device is
    /// saturated (its own time is), and a share in between.
    /// </summary>
    public static double Wait(double turnaround, double idleShare) => turnaround * Math.Clamp(idleShare / SpareIdleShare, 0, 1);

    /// <param name="cumulative">Per tree, the expected accepted nodes of its first j nodes, j = 0..n (cumulative[0] = 0).</param>
    /// <param name="baseExpected">Expected tokens without any node: one bonus token per sequence that steps.</param>
    /// <param name="baseCost">The forward's cost without any node (plain decoding and whatever else it carries).</param>
    /// <param name="maskCost">What the forward costs more once any tree keeps a node.</param>
    /// <param name="pricePerNode">What each kept node adds to the forward's cost.</param>
    /// <param name="wait">Time each step spends outside the device that the device cannot use (0 under load).</param>
    /// <param name="longestCost">
    /// What the forward costs more when the longest kept prefix is m nodes (a batched forward pads every sequence to the
    /// longest input), or null when that does not matter. Given, every cap m is tried and the best answer kept.
    /// </param>
    /// <returns>Per tree, the nodes to keep.</returns>
    public static int[] Best(IReadOnlyList<double[]> cumulative, double baseExpected, double baseCost, double maskCost, double pricePerNode,
        double wait = 0, Func<int, double>? longestCost = null)
    {
        wait = Math.Max(0, wait);
        double Goodput(int[] keep)
        {
            int nodes = keep.Sum();
            double extra = longestCost is null ? 0 : longestCost(keep.DefaultIfEmpty(0).Max());
            return (baseExpected + keep.Select((j, t) => cumulative[t][j]).Sum()) / (wait + baseCost + extra + (nodes > 0 ? maskCost : 0) + pricePerNode * nodes);
        }
        var best = new int[cumulative.Count];
        double bestGoodput = Goodput(best);
        if (cumulative.Count == 0) return best;
        int longest = cumulative.Max(c => c.Length - 1);
        for (int cap = longestCost is null ? longest : 1; cap <= longest; cap++)
        {
            double capCost = baseCost + maskCost + (longestCost?.Invoke(cap) ?? 0);
            var cut = Dinkelbach(cumulative, cap, baseExpected, wait + capCost, pricePerNode, bestGoodput);
            double goodput = Goodput(cut);
            if (goodput > bestGoodput) { best = cut; bestGoodput = goodput; }
        }
        return best;
    }

    /// <summary>
    /// The price of a millisecond of device time in tokens, for <see cref="ServerDecodingPays"/>: none while the device
    /// idles at least <see cref="SpareIdleShare"/> of the time (a step's own device time then takes nothing from anyone),
    /// the forward's goodput (<paramref name="expected"/> tokens in <paramref name="forwardMs"/>) when it never idles,
    /// a share in between. Busy is not the same as saturated: a device that runs small forwards back to back is never idle,
    /// yet a sequence more or less in them moves their cost little. Pricing each step's own device time at this rate
    /// (rather than discounting the edge's turnaround by the idle share) tells the two apart. A device that serves one
    /// sequence (<paramref name="sequences"/>) has nobody to give the time a step saves: nothing, however busy it is.
    /// </summary>
    public static double DevicePrice(double expected, double forwardMs, double idleShare, int sequences = int.MaxValue) =>
        sequences <= 1 || !(forwardMs > 0) || !(expected > 0) ? 0 : expected / forwardMs * (1 - Math.Clamp(idleShare / SpareIdleShare, 0, 1));

    /// <summary>
    /// Per tree, whether its session is better served decoded on the server (a hand-back, <see cref="HandBackPolicy"/>)
    /// than by its edge's loop. Each way of serving the session is valued as what it adds to the device's goodput
    /// (Dinkelbach's marginal rule, as in <see cref="Best"/>): its tokens less the device time it takes at
    /// <paramref name="devicePrice"/> tokens a millisecond (<see cref="DevicePrice"/>), per millisecond of the session's
    /// own step.
    /// <list type="bullet">
    /// <item>The edge's loop: the tree's expected tokens with the cut <paramref name="keep"/> (its nodes, plus the bonus),
    /// less its sequence's and nodes' device time, over the edge's <paramref name="turnaround"/> plus the cut forward. The
    /// session is absent from the forwards that run while its edge drafts: that is what the turnaround costs it.</item>
    /// <item>Plain decoding on the server: one token less a plain sequence's device time (<paramref name="perSequenceMs"/>)
    /// per plain forward (<paramref name="baseCost"/>).</item>
    /// <item>With <paramref name="serverDraft"/> (a silo with a draft model of its own, <see cref="ServerDraftLedger"/>),
    /// the server's own speculation, priced as if it drafted for every sequence of the forward (their pass's fixed part
    /// shared), and only where that drafting pays (<see cref="ServerDraftingPays"/>).</item>
    /// </list>
    /// While the device has time to spare (price 0) this compares the session's own rates: an edge's 15 ms round trip
    /// outweighs the few nodes a poor draft brings. On a saturated device (price its goodput) a step is worth what it adds
    /// beyond its device time: plain steps win once a sequence's own cost is most of what it brings. Arguments as for
    /// <see cref="Best"/>; <paramref name="baseExpected"/>: the forward's tokens without any node (its stepping sequences);
    /// <paramref name="turnarounds"/>: per tree, its own edge's turnaround, in place of <paramref name="turnaround"/>.
    /// </summary>
    public static bool[] ServerDecodingPays(IReadOnlyList<double[]> cumulative, int[] keep, double baseCost, double maskCost, double pricePerNode,
        double turnaround = 0, Func<int, double>? longestCost = null, ServerDraftCost? serverDraft = null, double baseExpected = 0,
        double perSequenceMs = 0, double devicePrice = 0, IReadOnlyList<double>? turnarounds = null)
    {
        if (turnarounds is not null && turnarounds.Count != keep.Length)
            throw new ArgumentException($"{turnarounds.Count} turnarounds for {keep.Length} trees.", nameof(turnarounds));
        if (!(baseCost > 0)) return new bool[keep.Length];
        int nodes = keep.Sum();
        double extra = longestCost is null ? 0 : longestCost(keep.DefaultIfEmpty(0).Max());
        double forward = baseCost + extra + (nodes > 0 ? maskCost : 0) + pricePerNode * nodes;
        double price = Math.Max(0, devicePrice), own = Math.Max(0, perSequenceMs);
        double server = (1 - price * own) / baseCost;
        // As if the server drafted for every sequence of the forward: under load its drafting is dear, the more so when it
        // drafts one tree after another.
        int sequences = (int)Math.Max(Math.Ceiling(baseExpected), keep.Length);
        if (serverDraft is { } sd && keep.Length > 0 && ServerDraftingPays(sequences, sequences, baseCost, sd, maskCost, pricePerNode))
        {
            double drafting = Math.Max(0, maskCost) + sd.ExtraMs(sequences, pricePerNode);
            server = Math.Max(server, (sd.TokensPerStep - price * (own + drafting / sequences)) / (baseCost + drafting));
        }
        // A tree's share of the mask is its own device time too.
        int masked = Math.Max(1, keep.Count(j => j > 0));
        return keep.Select((j, t) =>
        {
            // A tree cut to its root was a plain step that paid the edge's loop as well: the server's, whatever the prices.
            if (j == 0) return true;
            double device = own + pricePerNode * j + maskCost / masked;
            double step = Math.Max(0, turnarounds?[t] ?? turnaround) + forward;
            return server >= (1 + cumulative[t][j] - price * device) / step * (1 - 1e-9);
        }).ToArray();
    }

    /// <summary>
    /// Whether the server drafting trees for <paramref name="drafted"/> of a forward's sequences pays: it brings each of
    /// them TokensPerStep - 1 more expected tokens, for the mask's price once, a drafting pass and each tree's verified
    /// nodes (<see cref="ServerDraftCost.ExtraMs(int, double)"/>), and pays when that rate beats the forward's own without it,
    /// <paramref name="expected"/> tokens in <paramref name="cost"/> (the marginal rule of <see cref="Best"/>: drafting
    /// raises the forward's goodput exactly when it does). For one sequence alone that is: a server-drafted step
    /// commits its tokens faster than plain steps do. Under load the forward's own rate is high and drafting stops paying
    /// (sooner on a device that drafts one tree after another): the steps go plain, as trees cut to their root do.
    /// </summary>
    /// <param name="expected">Tokens the forward commits without the server's drafting (one per stepping sequence, at least).</param>
    /// <param name="cost">
    /// What the forward costs without it. Without the edges' wait: drafting takes the device from every sequence, and
    /// whether the device idles during an edge's turnaround says nothing of the steps the server decodes itself.
    /// </param>
    public static bool ServerDraftingPays(int drafted, double expected, double cost, ServerDraftCost serverDraft, double maskCost, double pricePerNode)
    {
        if (drafted <= 0 || !(cost > 0) || !(expected > 0)) return false;
        double gain = drafted * (serverDraft.TokensPerStep - 1);
        double extra = Math.Max(0, maskCost) + serverDraft.ExtraMs(drafted, pricePerNode);
        if (!(gain > 0)) return false;
        return !(extra > 0) || gain / extra > expected / cost;
    }

    /// <summary>
    /// The prefixes (each at most <paramref name="cap"/>) maximising (baseExpected + Σ expected) / (fixedCost + price · Σ nodes),
    /// from goodput <paramref name="start"/> upwards; all zeros when no node beats it.
    /// </summary>
    private static int[] Dinkelbach(IReadOnlyList<double[]> cumulative, int cap, double baseExpected, double fixedCost, double price, double start)
    {
        var best = new int[cumulative.Count];
        double r = start;
        for (int round = 0; round < 32; round++)
        {
            var next = new int[cumulative.Count];
            double expected = baseExpected;
            int nodes = 0;
            for (int t = 0; t < cumulative.Count; t++)
            {
                var c = cumulative[t];
                int j = 0;
                double value = 0;
                for (int k = 1; k < Math.Min(c.Length, cap + 1); k++)
                {
                    double v = c[k] - r * price * k;
                    if (v > value) { value = v; j = k; }
                }
                next[t] = j;
                expected += c[j];
                nodes += j;
            }
            if (nodes == 0) break;
            double goodput = expected / (fixedCost + price * nodes);
            if (goodput <= r * (1 + 1e-12)) break;
            best = next;
            r = goodput;
        }
        return best;
    }
}
