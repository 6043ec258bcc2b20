using SpecEdge.Inference.Speculative;
using SpecEdge.Protocol;
using Xunit;

namespace SpecEdge.Inference.Tests.Speculative;

/// <summary>
/// A tree drafted before the server decoded a few more tokens, moved past them (<see cref="TreeRebase"/>): what is left is
/// exactly the part of the tree that extends those tokens, as a tree the session's rules accept at its new step.
/// </summary>
[Trait("Kind", "unit")]
public class TreeRebaseTests
{
    // Root 10 (the last committed token); 11 and 12 below it; 13 and 14 below 11; 15 below 13.
    private static readonly DraftMessage Tree = new(Step: 7, CommittedLength: 30,
        Tokens: new[] { 10, 11, 12, 13, 14, 15 }, Parents: new[] { -1, 0, 0, 1, 1, 3 }, Confidence: new byte[] { 0, 4, 8, 10, 12, 14 });

    [Fact]
    public void PastOneToken_TheSubtreeBelowIt_IsTheTree_WithConfidencesGivenThatToken()
    {
        var (moved, kept) = TreeRebase.Onto(Tree, new[] { 11 }, step: 9, committedLength: 31);
        Assert.Equal(3, kept);
        Assert.Equal(9, moved.Step);
        Assert.Equal(31, moved.CommittedLength);
        Assert.Equal(new[] { 11, 13, 14, 15 }, moved.Tokens);
        Assert.Equal(new[] { -1, 0, 0, 1 }, moved.Parents);
        Assert.Equal(new byte[] { 0, 6, 8, 10 }, moved.Confidence);
    }

    [Fact]
    public void PastAPath_OnlyWhatExtendsItIsLeft()
    {
        var (moved, kept) = TreeRebase.Onto(Tree, new[] { 11, 13 }, step: 8, committedLength: 32);
        Assert.Equal(1, kept);
        Assert.Equal(new[] { 13, 15 }, moved.Tokens);
        Assert.Equal(new[] { -1, 0 }, moved.Parents);
        Assert.Equal(new byte[] { 0, 4 }, moved.Confidence);
    }

    [Theory]
    [InlineData(new[] { 99 })]          // the server's token is none of the draft's
    [InlineData(new[] { 11, 99 })]      // on the path, then off it
    [InlineData(new[] { 11, 13, 15, 4 })] // past the tree's deepest node
    public void TokensThatLeaveTheTree_LeaveItsRootAlone_APlainStep(int[] since)
    {
        var (moved, kept) = TreeRebase.Onto(Tree, since, step: 12, committedLength: 30 + since.Length);
        Assert.Equal(0, kept);
        Assert.Equal(new[] { since[^1] }, moved.Tokens);
        Assert.Equal(new[] { -1 }, moved.Parents);
        Assert.Equal(new byte[] { 0 }, moved.Confidence);
    }

    [Fact]
    public void ATreeWithoutConfidences_StaysWithout()
    {
        var bare = Tree with { Confidence = null };
        Assert.Null(TreeRebase.Onto(bare, new[] { 11 }, 8, 31).Tree.Confidence);
        Assert.Null(TreeRebase.Onto(bare, new[] { 99 }, 8, 31).Tree.Confidence);
    }

    [Fact]
    public void RandomTrees_MovedPastAnyOfTheirPaths_KeepEveryPathThatExtendsIt_AndPassTheTreeRules()
    {
        var random = new Random(3);
        for (int trial = 0; trial < 200; trial++)
        {
            var tree = RandomTree(random, nodes: random.Next(1, 30), vocab: 6);
            var committed = Enumerable.Range(100, 20).Append(tree.Tokens[0]).ToList();
            var paths = Enumerable.Range(0, tree.Tokens.Length).Select(n => PathOf(tree, n)).ToList();
            // Past the path of a random node (not the root), and past a path that leaves the tree at its end.
            var node = random.Next(1, Math.Max(2, tree.Tokens.Length));
            var since = node < tree.Tokens.Length ? paths[node] : new List<int> { 5 };
            if (random.Next(3) == 0) since = since.Append(6).ToList();   // token 6 is never drafted: off the tree
            var (moved, kept) = TreeRebase.Onto(tree, since, step: 50, committedLength: committed.Count + since.Count);

            var now = committed.Concat(since).ToList();
            Assert.Null(TreeRules.Check(moved.Step, moved.CommittedLength, moved.Tokens, moved.Parents, moved.Confidence, 50, now, maxNodes: 64, vocabSize: 64, "the sequence"));
            var expected = paths.Where(p => p.Count > since.Count && p.Take(since.Count).SequenceEqual(since)).Select(p => string.Join(",", p.Skip(since.Count))).ToHashSet();
            var actual = Enumerable.Range(1, moved.Tokens.Length - 1).Select(n => string.Join(",", PathOf(moved, n))).ToHashSet();
            Assert.Equal(expected, actual);
            Assert.Equal(expected.Count, kept);
            // Best first stays best first: the tree's own order, so confidences rise along it as before.
            for (int i = 1; i < moved.Tokens.Length; i++) Assert.True(moved.Confidence![i] >= moved.Confidence[moved.Parents[i]]);
        }
    }

    /// <summary>A tree in best-first order over tokens 0..vocab-2 (vocab-1 never appears), confidences rising with depth.</summary>
    private static DraftMessage RandomTree(Random random, int nodes, int vocab)
    {
        var tokens = new List<int> { 40 };
        var parents = new List<int> { -1 };
        var confidence = new List<byte> { 0 };
        for (int i = 1; i < nodes; i++)
        {
            int parent = random.Next(tokens.Count);
            var used = Enumerable.Range(1, tokens.Count - 1).Where(c => parents[c] == parent).Select(c => tokens[c]).ToHashSet();
            var free = Enumerable.Range(0, vocab - 1).Where(t => !used.Contains(t)).ToList();
            if (free.Count == 0) continue;
            tokens.Add(free[random.Next(free.Count)]);
            parents.Add(parent);
            confidence.Add((byte)Math.Min(255, confidence[parent] + random.Next(1, 20)));
        }
        return new DraftMessage(3, 21, tokens.ToArray(), parents.ToArray(), confidence.ToArray());
    }

    /// <summary>The tokens from below the root down to <paramref name="node"/>.</summary>
    private static List<int> PathOf(DraftMessage tree, int node)
    {
        var path = new List<int>();
        for (int n = node; n > 0; n = tree.Parents[n]) path.Insert(0, tree.Tokens[n]);
        return path;
    }
}
