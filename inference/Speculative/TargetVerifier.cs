using SpecEdge.Inference.Model;
using SpecEdge.Inference.Sampling;
using static TorchSharp.torch;

namespace SpecEdge.Inference.Speculative;

/// <summary>
/// Executes verification on the target model: one batched forward over the trees of many sequences, one target sample
/// per node, the acceptance rule, KV compaction to the accepted path, and the commit. Also runs plain decoding steps
/// (the target-only baseline, and server-side decoding when no draft is available). Holds no per-sequence state.
/// </summary>
public sealed class TargetVerifier(CausalLm target)
{
    public CausalLm Model => target;

    /// <summary>Creates a sequence for <paramref name="prompt"/> and prefills all but its last token.</summary>
    public TargetSequence Start(IReadOnlyList<int> prompt, SamplingParams sampling, StopCriteria stop, int capacity)
    {
        var cache = target.NewCache(capacity);
        try
        {
            var sequence = new TargetSequence(cache, prompt, prompt.Count, sampling, stop);
            Prefill(sequence);
            return sequence;
        }
        catch
        {
            cache.Dispose();
            throw;
        }
    }

    /// <summary>Brings the cache up to all committed tokens but the last (after a restart or eviction, too).</summary>
    public void Prefill(TargetSequence sequence)
    {
        int missing = sequence.Committed.Count - 1 - sequence.Cache.PrefixLength;
        if (missing <= 0) return;
        var tokens = sequence.Committed.Skip(sequence.Cache.PrefixLength).Take(missing).ToArray();
        target.Forward(new[] { SequenceInput.Chain(sequence.Cache, tokens, lastLogitOnly: true) })[0].Dispose();
    }

    /// <summary>
    /// Verifies one tree per sequence in ONE forward. Trees must have been validated (<see cref="TargetSequence.Validate"/>).
    /// Returns each sequence's verdict: accepted path tokens plus bonus, cut by its stop criteria.
    /// </summary>
    public VerdictMessage[] Verify(IReadOnlyList<(TargetSequence Sequence, DraftMessage Tree)> batch)
    {
        var inputs = batch.Select(b => new SequenceInput(b.Sequence.Cache, b.Tree.Tokens, b.Tree.Parents)).ToArray();
        var logits = target.Forward(inputs);
        var verdicts = new VerdictMessage[batch.Count];
        for (int i = 0; i < batch.Count; i++)
        {
            var (sequence, tree) = batch[i];
            int[] samples;
            using (logits[i]) samples = Sampler.SampleRows(logits[i], sequence.Sampling, sequence.Rng);
            var (path, _, bonus) = TreeAcceptance.Accept(tree.Parents, tree.Tokens, samples);
            sequence.Cache.Compact(new[] { 0 }.Concat(path).ToArray());
            long step = sequence.Step;
            var kept = sequence.Commit(path.Select(n => tree.Tokens[n]).Append(bonus).ToArray());
            verdicts[i] = new VerdictMessage(step, kept, sequence.Finished);
        }
        return verdicts;
    }

    /// <summary>One plain decoding step (one new token) for each sequence, batched: the target-only path.</summary>
    public int[][] DecodeStep(IReadOnlyList<TargetSequence> sequences)
    {
        var inputs = sequences.Select(s => SequenceInput.Chain(s.Cache, new[] { s.Committed[^1] })).ToArray();
        var logits = target.Forward(inputs);
        var result = new int[sequences.Count][];
        for (int i = 0; i < sequences.Count; i++)
        {
            int token;
            using (logits[i]) token = Sampler.SampleRows(logits[i], sequences[i].Sampling, sequences[i].Rng)[0];
            result[i] = sequences[i].Commit(new[] { token });
        }
        return result;
    }
}
