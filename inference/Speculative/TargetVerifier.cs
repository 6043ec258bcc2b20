using SpecEdge.Inference.Constraints;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Prefixes;
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

    /// <summary>
    /// The target's tokens for constrained replies (<see cref="SamplingParams.Grammar"/>); without it a sequence that
    /// asks for JSON fails its step with a message saying so.
    /// </summary>
    public TokenMasker? Masker { get; init; }

    /// <summary>
    /// Most grammar masks one item may compute (not find cached) per forward, besides its root's. A tree whose nodes keep
    /// reaching new grammar states (an edge drafting adversarially, say) would otherwise spend the device thread that
    /// every sequence waits on; past the budget the tree is cut there, which any prefix of its best-first node list
    /// allows, and verification of the rest stays exact.
    /// </summary>
    public int MaxMaskComputationsPerItem { get; init; } = 16;

    /// <summary>
    /// The target's early exit: with <see cref="EarlyVerdicts"/> set, every forward that verifies trees is split after
    /// the head's layer, and each tree's <see cref="EarlyVerdict"/> is handed out before the remaining layers run.
    /// </summary>
    public EarlyExitHead? ExitHead { get; init; }

    /// <summary>
    /// Receives early verdicts, synchronously on the forward's thread (keep it short: queue a send). Trees of sequences
    /// under a grammar or with penalties or biases get none (their rows are adjusted after the forward); a sink that
    /// throws loses its verdict, never the forward. Settable between forwards: without a sink a forward is not split, so
    /// a batch nobody listens to costs nothing extra.
    /// </summary>
    public Action<TargetSequence, EarlyVerdict>? EarlyVerdicts { get; set; }

    /// <summary>Seconds spent on grammar masks (finding them and applying them to the rows), for benchmarks.</summary>
    public double ConstraintSeconds { get; private set; }

    /// <summary>
    /// Creates a sequence for <paramref name="prompt"/> and prefills all but its last token (from <see cref="Prefixes"/>
    /// as far as it holds them, under <paramref name="scope"/>).
    /// </summary>
    public TargetSequence Start(IReadOnlyList<int> prompt, SamplingParams sampling, StopCriteria stop, int capacity, PrefixScope? scope = null)
    {
        var cache = target.NewCache(capacity);
        try
        {
            var sequence = new TargetSequence(cache, prompt, prompt.Count, sampling, stop) { PrefixScope = scope };
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
    public void Prefill(TargetSequence sequence) => Execute(new[] { new PrefillWork(sequence) })[0].VerdictOrThrow();

    /// <summary>
    /// Verifies one tree per sequence in ONE forward. Trees must have been validated (<see cref="TargetSequence.Validate"/>).
    /// Returns each sequence's verdict: accepted path tokens plus bonus, cut by its stop criteria.
    /// </summary>
    public VerdictMessage[] Verify(IReadOnlyList<(TargetSequence Sequence, DraftMessage Tree)> batch) =>
        Execute(batch.Select(b => (TargetWork)new VerifyWork(b.Sequence, b.Tree)).ToArray()).Select(r => r.VerdictOrThrow()).ToArray();

    /// <summary>One plain decoding step (one new token) for each sequence, batched: the target-only path.</summary>
    public int[][] DecodeStep(IReadOnlyList<TargetSequence> sequences) =>
        Execute(sequences.Select(s => (TargetWork)new DecodeWork(s)).ToArray()).Select(r => r.VerdictOrThrow().AcceptedTokens).ToArray();

    /// <summary>
    /// Runs any mix of work in ONE target forward, then decides every item (samples, acceptance, stop rule) before
    /// changing any sequence, then commits each. One item's failure is that item's alone: its sequence is restored to
    /// what it was before the batch and the others commit normally, exactly once. If the forward itself fails, every
    /// sequence is restored and the exception propagates. Each sequence may appear once.
    /// </summary>
    public WorkResult[] Execute(IReadOnlyList<TargetWork> work)
    {
        // A tree of its root alone is a plain decoding step: the same draw at the same position decides the same token,
        // and the chain path skips the tree's mask, acceptance and compaction, so a trimmed-away tree costs what plain
        // decoding does.
        var items = work.Select(w => w is VerifyWork { Tree.Tokens.Length: 1 } v ? new DecodeWork(v.Sequence) : w).ToArray();
        work = items;
        var inputs = new List<SequenceInput>();
        var index = new int[work.Count];
        var prefixBefore = work.Select(w => w.Sequence.Cache.PrefixLength).ToArray();
        var results = new WorkResult[work.Count];
        // Grammar masks depend only on tokens, not on logits: found before the forward, so an item that cannot be
        // constrained fails alone and never costs the batch a row.
        var masks = new ulong[]?[work.Count][];
        var failed = new bool[work.Count];
        var reused = new int[work.Count];
        for (int i = 0; i < work.Count; i++)
        {
            var sequence = work[i].Sequence;
            index[i] = -1;
            if (sequence.Sampling.Grammar is not null && work[i] is VerifyWork or DecodeWork)
            {
                long started = System.Diagnostics.Stopwatch.GetTimestamp();
                try
                {
                    masks[i] = RowMasks(work[i]);
                    // Cut where the mask budget ran out: the tree's first nodes are a tree of their own.
                    if (work[i] is VerifyWork cut && masks[i]!.Length < cut.Tree.Tokens.Length)
                        items[i] = masks[i]!.Length == 1 ? new DecodeWork(sequence)
                            : new VerifyWork(sequence, cut.Tree with
                            {
                                Tokens = cut.Tree.Tokens[..masks[i]!.Length], Parents = cut.Tree.Parents[..masks[i]!.Length],
                                Confidence = cut.Tree.Confidence?[..masks[i]!.Length],
                            });
                }
                catch (Exception e)
                {
                    results[i] = new WorkResult(null, e);
                    failed[i] = true;
                    continue;
                }
                finally { ConstraintSeconds += System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds; }
            }
            switch (work[i])
            {
                case VerifyWork v:
                    index[i] = inputs.Count;
                    inputs.Add(new SequenceInput(sequence.Cache, v.Tree.Tokens, v.Tree.Parents));
                    break;
                case DecodeWork:
                    index[i] = inputs.Count;
                    inputs.Add(SequenceInput.Chain(sequence.Cache, new[] { sequence.Committed[^1] }));
                    break;
                case PrefillWork:
                    try
                    {
                        // The longest cached prefix is copied in; only the rest is computed.
                        if (Prefixes is { } prefixes && sequence.PrefixScope is { } scope)
                            prefixes.Restore(sequence.Cache, sequence.Committed, sequence.Committed.Count - 1, scope);
                    }
                    catch (Exception e)
                    {
                        Restore(sequence, prefixBefore[i]);
                        results[i] = new WorkResult(null, e);
                        failed[i] = true;
                        break;
                    }
                    reused[i] = sequence.Cache.PrefixLength;
                    int missing = sequence.Committed.Count - 1 - sequence.Cache.PrefixLength;
                    if (missing <= 0) break;
                    index[i] = inputs.Count;
                    inputs.Add(SequenceInput.Chain(sequence.Cache, sequence.Committed.Skip(sequence.Cache.PrefixLength).Take(missing).ToArray(), lastLogitOnly: true));
                    break;
            }
        }
        TorchSharp.torch.Tensor[] logits;
        try
        {
            logits = target.Forward(inputs, ExitHead, ExitHead is not null && EarlyVerdicts is { } sink ? (exitRows, columns) => SendEarlyVerdicts(work, index, exitRows, columns, sink) : null);
            // Penalties and biases change the rows before anything reads them, so every path decides from the same numbers;
            // then the grammar removes what it does not allow (a bias cannot bring a banned token back).
            AdjustLogits(work, index, logits);
            long constrainStarted = System.Diagnostics.Stopwatch.GetTimestamp();
            ConstrainLogits(index, logits, masks);
            ConstraintSeconds += System.Diagnostics.Stopwatch.GetElapsedTime(constrainStarted).TotalSeconds;
        }
        catch
        {
            for (int i = 0; i < work.Count; i++) Restore(work[i].Sequence, prefixBefore[i]);
            throw;
        }

        // Every node of every sequence sampled in one device call; only the ids come back.
        var samples = SampleAll(work, index, logits);

        // Decide: nothing below changes a sequence, so an exception here fails one item and leaves the rest intact.
        var plans = new StepPlan?[work.Count];
        for (int i = 0; i < work.Count; i++)
        {
            if (failed[i]) continue;
            var sequence = work[i].Sequence;
            using var rows = index[i] >= 0 ? logits[index[i]] : null;
            try { plans[i] = Decide(work[i], rows, samples?[i]); }
            catch (Exception e)
            {
                Restore(sequence, prefixBefore[i]);
                results[i] = new WorkResult(null, e);
            }
        }

        // Commit what was decided.
        for (int i = 0; i < work.Count; i++)
        {
            if (plans[i] is not { } plan) continue;
            var sequence = work[i].Sequence;
            try
            {
                long step = sequence.Step;
                if (plan.Path is not null) sequence.Cache.Compact(new[] { 0 }.Concat(plan.Path).ToArray());
                if (plan.Tokens is null)
                {
                    results[i] = new WorkResult(new VerdictMessage(sequence.Step, Array.Empty<int>(), sequence.Finished), null) { ReusedTokens = reused[i] };
                    KeepPrefix(sequence);
                    continue;
                }
                var kept = sequence.Commit(plan.Tokens, plan.Keep, plan.Reason);
                results[i] = new WorkResult(new VerdictMessage(step, kept, sequence.Finished, plan.Logprobs), null);
                if (sequence.Finished) KeepPrefix(sequence);
            }
            catch (Exception e)
            {
                // Compaction or commit failed half-way: the sequence can no longer be trusted; its owner must rebuild it.
                sequence.Faulted = true;
                results[i] = new WorkResult(null, e);
            }
        }
        return results;
    }

    /// <summary>
    /// Keys and values of prefixes outlive their sequences here: every sequence's prefix blocks are cached after its
    /// prefill and when its reply ends, so the next conversation (or this one, rebuilt) starting the same way reuses them.
    /// </summary>
    public PrefixCache? Prefixes { get; init; }

    /// <summary>Caches a sequence's committed blocks. Best effort: a full or failing prefix cache never fails the step.</summary>
    private void KeepPrefix(TargetSequence sequence)
    {
        if (Prefixes is not { } prefixes || sequence.PrefixScope is not { } scope) return;
        try { prefixes.Insert(sequence.Cache, sequence.Committed, scope); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            PrefixInsertFailures++;
        }
    }

    /// <summary>Prefix blocks that could not be kept (a device allocation failed); the steps themselves went on.</summary>
    public int PrefixInsertFailures { get; private set; }

    /// <summary>Each tree's early verdict from the exit head's rows (see <see cref="EarlyVerdicts"/>).</summary>
    private static void SendEarlyVerdicts(IReadOnlyList<TargetWork> work, int[] index, TorchSharp.torch.Tensor?[] exitRows, long[]? columns, Action<TargetSequence, EarlyVerdict> sink)
    {
        for (int i = 0; i < work.Count; i++)
        {
            if (work[i] is not VerifyWork v || index[i] < 0 || exitRows[index[i]] is not { } rows) continue;
            var sequence = v.Sequence;
            if (sequence.Sampling.Grammar is not null || sequence.Sampling.AdjustsLogits) continue;
            try
            {
                // Over a shortlist, a sample is a column: the token is the column's id (the draw is the same position's).
                var samples = Sampler.SampleRows(rows, sequence.Sampling, NodePositions(v.Tree.Parents, sequence.Committed.Count));
                if (columns is not null) samples = samples.Select(c => (int)columns[c]).ToArray();
                var (path, _, bonus) = TreeAcceptance.Accept(v.Tree.Parents, v.Tree.Tokens, samples);
                sink(sequence, new EarlyVerdict(sequence.Step, path.Select(n => v.Tree.Tokens[n]).Append(bonus).ToArray()));
            }
            catch (Exception e) when (e is not OutOfMemoryException) { _ = e; }   // a lost hint; the final verdict decides
        }
    }

    /// <summary>
    /// Replaces the logit rows of each verify or decode item whose sequence asks for penalties or biases with the
    /// adjusted rows (<see cref="LogitAdjustment"/>). Only a device fault can make it fail (settings were validated
    /// when the sequence took them), and then the whole batch fails as a failed forward does.
    /// </summary>
    private static void AdjustLogits(IReadOnlyList<TargetWork> work, int[] index, TorchSharp.torch.Tensor[] logits)
    {
        for (int i = 0; i < work.Count; i++)
        {
            var sequence = work[i].Sequence;
            if (index[i] < 0 || !sequence.Sampling.AdjustsLogits) continue;
            int[][]? paths = work[i] switch
            {
                VerifyWork v => LogitAdjustment.TreePaths(v.Tree.Parents, v.Tree.Tokens),
                DecodeWork => [[]],
                _ => null,
            };
            if (paths is null) continue;
            var adjusted = LogitAdjustment.Apply(logits[index[i]], sequence.Sampling, sequence.Committed, sequence.PromptLength, paths);
            logits[index[i]].Dispose();
            logits[index[i]] = adjusted;
        }
    }

    /// <summary>
    /// The grammar mask of each logit row of a verify or decode item: the tokens allowed after the committed reply plus
    /// the drafted path down to that row's node. A node whose own token the grammar refuses can never be on an accepted
    /// path (the target never chooses a refused token), so its row is left unmasked (null).
    /// </summary>
    private ulong[]?[] RowMasks(TargetWork work)
    {
        var masker = Masker ?? throw new InvalidOperationException("This verifier has no token vocabulary, so it cannot constrain a reply to JSON.");
        var vocabulary = masker.Vocabulary;
        var root = work.Sequence.GrammarState(vocabulary)
            ?? throw new InvalidOperationException("The committed reply does not follow its JSON grammar; it cannot continue under it.");
        if (work is not VerifyWork v) return [masker.Allowed(root)];
        var states = new GrammarState?[v.Tree.Tokens.Length];
        var masks = new ulong[]?[states.Length];
        states[0] = root;
        masks[0] = masker.Allowed(root);
        int computations = 0;
        for (int u = 1; u < states.Length; u++)
        {
            states[u] = states[v.Tree.Parents[u]] is { } parent && vocabulary.Bytes(v.Tree.Tokens[u]) is { } bytes ? parent.Advance(bytes) : null;
            if (states[u] is not { } state) continue;
            masks[u] = masker.Allowed(state, out bool computed);
            // The budget is spent: this node and the rest are not verified this step (the masks of nodes up to here are).
            if (computed && ++computations > MaxMaskComputationsPerItem) return masks[..u];
        }
        return masks;
    }

    /// <summary>
    /// Sets every logit the grammar refuses to -inf, in the forward's own rows (fresh, and read by nothing else before
    /// this step decides): a 152k-vocabulary tree of 33 rows would otherwise copy 20 MB a step.
    /// </summary>
    private static void ConstrainLogits(int[] index, TorchSharp.torch.Tensor[] logits, ulong[]?[]?[] masks)
    {
        for (int i = 0; i < masks.Length; i++)
            if (masks[i] is { } rowMasks && index[i] >= 0) MaskRowsInPlace(logits[index[i]], rowMasks);
    }

    /// <summary>Sets to -inf, in <paramref name="rows"/>, every token its row's mask refuses; a null mask leaves its row as it is.</summary>
    /// <remarks>
    /// The boolean mask is expanded on the host, eight tokens per table lookup, and copied to the rows' device once (one
    /// byte per token). On a CPU the cost is memory traffic (docs/benchmarks/openai.md); expanding packed bits with
    /// tensor operations instead cost as much or more.
    /// </remarks>
    public static void MaskRowsInPlace(TorchSharp.torch.Tensor rows, IReadOnlyList<ulong[]?> rowMasks)
    {
        int width = (int)rows.shape[1];
        var blocked = new bool[rowMasks.Count * width];
        for (int r = 0; r < rowMasks.Count; r++)
        {
            if (rowMasks[r] is not { } mask) continue;              // unreachable row: left as it is
            var row = blocked.AsSpan(r * width, width);
            var maskBytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(mask.AsSpan());
            int whole = width / 8;
            var eights = System.Runtime.InteropServices.MemoryMarshal.Cast<bool, ulong>(row[..(whole * 8)]);
            // Ids past the vocabulary's last word are refused.
            for (int j = 0; j < whole; j++) eights[j] = j < maskBytes.Length ? BlockedEights[maskBytes[j]] : BlockedEights[0];
            for (int t = whole * 8; t < width; t++) row[t] = t / 8 >= maskBytes.Length || (maskBytes[t / 8] & (1 << (t % 8))) == 0;
        }
        using var blockedTensor = TorchSharp.torch.tensor(blocked, [rowMasks.Count, width], device: rows.device);
        // A kept scalar (KeptScalars): an implicit temporary was freed mid-call under the allocation of a large mask.
        rows.FillNegativeInfinityInPlace(blockedTensor);
    }

    /// <summary>For each mask byte, its eight tokens as booleans (1 = refused), packed in one little-endian word.</summary>
    private static readonly ulong[] BlockedEights = Enumerable.Range(0, 256).Select(b =>
    {
        ulong eight = 0;
        for (int i = 0; i < 8; i++) if ((b >> i & 1) == 0) eight |= 1UL << (8 * i);
        return eight;
    }).ToArray();

    /// <summary>What a step will commit, decided from the logits without touching the sequence.</summary>
    private sealed record StepPlan(int[]? Path, int[]? Tokens, int Keep, FinishReason Reason, TokenLogprob[]? Logprobs = null);

    /// <summary>An item's target samples, and for a verify item its acceptance as decided on the device.</summary>
    private sealed record Sampled(int[] Samples, (int[] Path, int Deepest, int Bonus)? Acceptance);

    /// <summary>
    /// The target samples of every verify and decode item, from one <see cref="DeviceSampler"/> call over all their
    /// logit rows, each row with its sequence's settings and the draw of the position it decides, and the acceptance of
    /// every tree from one <see cref="DeviceTreeAcceptance"/> call on those samples. Null if either call fails: each item
    /// then samples and accepts on its own, so a failure stays with the item that caused it.
    /// </summary>
    private static Sampled?[]? SampleAll(IReadOnlyList<TargetWork> work, int[] index, TorchSharp.torch.Tensor[] logits)
    {
        var parts = new List<TorchSharp.torch.Tensor>();
        var settings = new List<SamplingParams>();
        var positions = new List<long>();
        var counts = new int[work.Count];
        var trees = new List<(int[] Parents, int[] Tokens)>();
        var treeRows = new List<long>();
        for (int i = 0; i < work.Count; i++)
        {
            var sequence = work[i].Sequence;
            long[]? rowPositions = work[i] switch
            {
                VerifyWork v => NodePositions(v.Tree.Parents, sequence.Committed.Count),
                DecodeWork => new long[] { sequence.Committed.Count },
                _ => null,
            };
            if (rowPositions is null || index[i] < 0) continue;
            if (work[i] is VerifyWork verify)
            {
                trees.Add((verify.Tree.Parents, verify.Tree.Tokens));
                treeRows.AddRange(Enumerable.Range(positions.Count, rowPositions.Length).Select(r => (long)r));
            }
            parts.Add(logits[index[i]]);
            positions.AddRange(rowPositions);
            settings.AddRange(Enumerable.Repeat(sequence.Sampling, rowPositions.Length));
            counts[i] = rowPositions.Length;
        }
        if (parts.Count == 0) return null;
        try
        {
            using var all = parts.Count == 1 ? parts[0].alias() : TorchSharp.torch.cat(parts, 0);
            using var onDevice = DeviceSampler.SampleRowsOnDevice(all, settings, positions);
            (int[] Path, int Deepest, int Bonus)[] accepted = [];
            // On a CPU the samples are already in host memory: the rule on host arrays takes microseconds, where the
            // device formulation's two dozen small tensor operations cost a third of a small forward.
            bool onHost = onDevice.device.type == TorchSharp.DeviceType.CPU;
            if (trees.Count > 0 && !onHost)
            {
                using var rows = TorchSharp.torch.tensor(treeRows.ToArray(), device: onDevice.device);
                using var treeSamples = onDevice.index_select(0, rows);
                accepted = DeviceTreeAcceptance.Accept(trees, treeSamples);
            }
            using var host = onDevice.cpu();
            var ids = host.data<long>().Select(x => (int)x).ToArray();
            if (trees.Count > 0 && onHost)
            {
                accepted = new (int[] Path, int Deepest, int Bonus)[trees.Count];
                for (int t = 0, row = 0; t < trees.Count; row += trees[t].Tokens.Length, t++)
                {
                    int start = (int)treeRows[row];     // a tree's samples are contiguous, in node order
                    accepted[t] = TreeAcceptance.Accept(trees[t].Parents, trees[t].Tokens, ids[start..(start + trees[t].Tokens.Length)]);
                }
            }
            var result = new Sampled?[work.Count];
            int offset = 0, tree = 0;
            for (int i = 0; i < work.Count; i++)
            {
                if (counts[i] == 0) continue;
                result[i] = new Sampled(ids[offset..(offset + counts[i])], work[i] is VerifyWork ? accepted[tree++] : null);
                offset += counts[i];
            }
            return result;
        }
        catch (Exception)
        {
            return null;
        }
    }

    private static StepPlan Decide(TargetWork work, TorchSharp.torch.Tensor? rows, Sampled? sampled)
    {
        var sequence = work.Sequence;
        switch (work)
        {
            case VerifyWork v:
                {
                    // Lossless and unsteerable: every node at depth d is sampled with the draw of the same absolute
                    // position (committed + d), so whichever node the accepted path passes through there, the token
                    // emitted at that position is the inverse-CDF sample of the target's distribution at the accepted
                    // prefix with that position's draw. That is exactly what target-only decoding with this seed emits,
                    // token by token; the draft only decides how many of those tokens one forward confirms, never which.
                    var (path, _, bonus) = sampled?.Acceptance ?? TreeAcceptance.Accept(v.Tree.Parents, v.Tree.Tokens,
                        Sampler.SampleRows(rows!, sequence.Sampling, NodePositions(v.Tree.Parents, sequence.Committed.Count)));
                    var tokens = path.Select(n => v.Tree.Tokens[n]).Append(bonus).ToArray();
                    var (keep, reason) = sequence.Cut(tokens);
                    // The k-th emitted token was drawn from the row of the path's node above it (the root's for the first).
                    return new StepPlan(path, tokens, keep, reason, Logprobs(sequence, rows, new[] { 0 }.Concat(path).ToArray(), tokens, keep));
                }
            case DecodeWork:
                {
                    var tokens = new[] { (sampled?.Samples ?? Sampler.SampleRows(rows!, sequence.Sampling, new long[] { sequence.Committed.Count }))[0] };
                    var (keep, reason) = sequence.Cut(tokens);
                    return new StepPlan(null, tokens, keep, reason, Logprobs(sequence, rows, new[] { 0 }, tokens, keep));
                }
            default:
                return new StepPlan(null, null, 0, FinishReason.None);
        }
    }

    /// <summary>
    /// The log probabilities of the <paramref name="keep"/> tokens a step commits, when the sequence asks for them:
    /// token j was drawn from logit row <paramref name="rowOfToken"/>[j]. Only those rows are read, on their device.
    /// </summary>
    private static TokenLogprob[]? Logprobs(TargetSequence sequence, TorchSharp.torch.Tensor? rows, int[] rowOfToken, int[] tokens, int keep)
    {
        if (sequence.Sampling.Logprobs < 0 || rows is null || keep == 0) return null;
        using var index = TorchSharp.torch.tensor(rowOfToken.Take(keep).Select(r => (long)r).ToArray(), device: rows.device);
        using var emittedRows = rows.index_select(0, index);
        return DeviceSampler.Logprobs(emittedRows, sequence.Sampling, tokens[..keep]);
    }

    /// <summary>Forgets whatever this batch's forward wrote into the sequence's cache.</summary>
    private static void Restore(TargetSequence sequence, int prefixBefore)
    {
        if (!sequence.Cache.IsDisposed) sequence.Cache.Truncate(prefixBefore);
    }

    /// <summary>
    /// The absolute position each node's sample decides: node <c>u</c> at depth <c>d</c> stands for the token at
    /// <c>committed - 1 + d</c>, so its logits predict position <c>committed + d</c>.
    /// </summary>
    internal static long[] NodePositions(IReadOnlyList<int> parents, int committed)
    {
        var positions = new long[parents.Count];
        positions[0] = committed;
        for (int u = 1; u < parents.Count; u++) positions[u] = positions[parents[u]] + 1;
        return positions;
    }
}
