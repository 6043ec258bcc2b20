using static TorchSharp.torch;

namespace SpecEdge.Inference.Speculative;

/// <summary>
/// Drafts the trees of many sequences that share one draft model in lockstep: each draft round of every tree runs in
/// one batched forward of the draft, not one forward per tree. A device that drafts for the sessions it decodes itself
/// then pays for a round of n trees about what it pays for one while the draft's forward is bound by reading its weights
/// (a GPU's case for small drafts; Sequoia and SpecInfer batch their drafting the same way), instead of n times that.
/// Each tree is the one its drafter's <see cref="TreeDrafter.BuildTree"/> would have built: the same searches, the same
/// rounds, each sequence's rows computed on its own cache. Not thread-safe, like the drafters.
/// </summary>
public static class BatchTreeDrafting
{
    /// <summary>
    /// The next tree of each of <paramref name="drafters"/> (distinct, on one draft model, each ready for a tree: see
    /// <see cref="TreeDrafter.CanBuildTree"/>), in order. A drafter whose reply's grammar it follows must have been told
    /// first (<see cref="TreeDrafter.FollowGrammar"/>). If a forward fails the exception escapes and the drafters are left
    /// part-way through their trees: the caller disposes them (their committed tokens are not theirs to lose).
    /// </summary>
    public static DraftMessage[] BuildTrees(IReadOnlyList<TreeDrafter> drafters)
    {
        if (drafters.Count == 0) return Array.Empty<DraftMessage>();
        var model = drafters[0].DraftModel;
        if (drafters.Any(d => !ReferenceEquals(d.DraftModel, model)))
            throw new ArgumentException("Trees drafted in one pass share one draft model.", nameof(drafters));
        if (drafters.Distinct(ReferenceEqualityComparer.Instance).Count() != drafters.Count)
            throw new ArgumentException("A drafter drafts one tree per pass.", nameof(drafters));
        if (drafters.FirstOrDefault(d => !d.CanBuildTree) is { } busy)
            throw new InvalidOperationException($"A drafter at step {busy.Step} cannot draft a tree: its reply has finished or a tree is in flight.");

        foreach (var d in drafters) d.BeginTree();
        var active = drafters.ToList();
        while (active.Count > 0)
        {
            var rounds = new List<(TreeDrafter Drafter, TreeDrafter.Round Round)>();
            foreach (var d in active.ToList())
            {
                // A round whose nodes all have their top tokens already (a carried subtree's) needs no forward: it ends at
                // once, and the drafter's next round joins this pass's forward, as BuildTree would run it next.
                var round = d.NextRound();
                while (round is { Input: null })
                {
                    d.EndRound(round, null);
                    round = d.NextRound();
                }
                if (round is null) active.Remove(d);
                else rounds.Add((d, round));
            }
            if (rounds.Count == 0) break;
            using var scope = NewDisposeScope();
            var logits = model.Forward(rounds.Select(r => r.Round.Input!).ToList());
            for (int i = 0; i < rounds.Count; i++) rounds[i].Drafter.EndRound(rounds[i].Round, logits[i]);
        }
        return drafters.Select(d => d.EndTree()).ToArray();
    }
}
