using Microsoft.Extensions.Logging;
using SpecEdge.Grains.Hosting;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Constraints;
using SpecEdge.Inference.Prefixes;
using SpecEdge.Inference.Speculative;

namespace SpecEdge.Grains.Verification;

/// <summary>
/// One item of a device job: whose work it is, the work, whether the server drafts its tree first, and where its early
/// verdict goes (called on the device thread mid-forward: it must only hand the verdict on).
/// </summary>
public readonly record struct DeviceJob(string SessionId, TargetWork Work, bool ServerDrafted, Action<EarlyVerdict>? Early = null);

/// <summary>
/// What a device job did: each item's result, the work as drafted (server trees drafted, before trimming) and as it ran
/// (every tree trimmed), the nodes of each tree verified (-1: all, or no tree), and the target forward's shape and time
/// (drafting excluded).
/// </summary>
public sealed record DeviceOutcome(WorkResult[] Results, TargetWork[] Drafted, TargetWork[] Ran, int[] VerifiedNodes, ForwardShape Shape, double ForwardMs)
{
    /// <summary>Per step, whether its session would be served faster by plain decoding on the server (a hand-back; TrimRule.ApplyWithHandBacks).</summary>
    public bool[] ServerPays { get; init; } = new bool[Results.Length];

    /// <summary>Per step, whether the server drafted its tree (a server-decoded step, where drafting paid).</summary>
    public bool[] ServerDrafted { get; init; } = new bool[Results.Length];

    /// <summary>
    /// The server's drafting passes of this job: trees drafted and milliseconds taken, one pass for all the trees when it
    /// drafts them together (SpecEdge:BatchServerDrafts), one per tree otherwise.
    /// </summary>
    public IReadOnlyList<(int Trees, double Ms)> DraftPasses { get; init; } = Array.Empty<(int, double)>();
}

/// <summary>
/// What lives on one device: the target model's verifier, the server's draft state of the sessions it decodes, and the
/// device thread that every tensor operation runs on (<see cref="ModelHost.Worker"/>: a blocking forward on the thread
/// pool starved Orleans on two cores). The verifier grain decides what runs; this only computes and returns results,
/// the vLLM split of scheduler and model runner. A caller may assume every method here is safe to call from the grain's
/// thread and never touches a tensor there.
/// </summary>
public sealed class DeviceRunner(ModelHost models, int device, ILogger logger)
{
    // One mask cache per device: the masks it holds are those of the sequences this device verifies. One prefix cache
    // per device too, sized by the grain to what its KV budget leaves free (nothing until it says).
    private readonly TargetVerifier _verifier = new(models.Target(device))
    {
        Masker = new TokenMasker(models.Vocabulary),
        ExitHead = models.ExitHead(device),
        Prefixes = models.Options.PrefixCacheBlockTokens > 0
            ? new PrefixCache(models.Target(device).Config, models.Target(device).DType, models.Target(device).Device,
                Path.GetFullPath(models.Options.TargetModel), models.Options.PrefixCacheBlockTokens, capacityBytes: 0)
            : null,
    };

    /// <summary>Where this forward's early verdicts go, by sequence (device thread only; set for the length of one job).</summary>
    private readonly Dictionary<TargetSequence, Action<EarlyVerdict>> _earlyListeners = new(ReferenceEqualityComparer.Instance);

    /// <summary>True when forwards are split at the exit head and edges get early verdicts.</summary>
    public bool SendsEarlyVerdicts => _verifier.ExitHead is not null;

    /// <summary>The device's prefix cache (null when off). Its capacity may be set from any thread; everything else runs on the device thread.</summary>
    public PrefixCache? Prefixes => _verifier.Prefixes;

    /// <summary>The server draft model's prefix cache on this device (null without a server draft or with the cache off).</summary>
    private readonly PrefixCache? _draftPrefixes = models.Options.PrefixCacheBlockTokens > 0 && models.ServerDraft(device) is { } draft
        ? new PrefixCache(draft.Config, draft.DType, draft.Device, Path.GetFullPath(models.Options.ServerDraftModel!), models.Options.PrefixCacheBlockTokens, capacityBytes: 0)
        : null;

    /// <summary>Server drafters whose prompt's draft KV is still to be kept (after their first verdict, when it is computed).</summary>
    private readonly HashSet<string> _draftPromptsToKeep = new();

    /// <summary>Bytes held by the prefix caches (target and server draft).</summary>
    public long PrefixBytes => (Prefixes?.Bytes ?? 0) + (_draftPrefixes?.Bytes ?? 0);

    /// <summary>
    /// Gives the prefix caches <paramref name="bytes"/> in all, split between the target's and the server draft's in
    /// proportion to their KV bytes per token, so both hold prefixes of the same length. Any thread.
    /// </summary>
    public void SizePrefixCaches(long bytes)
    {
        if (Prefixes is not { } target) return;
        if (_draftPrefixes is not { } draft)
        {
            target.CapacityBytes = bytes;
            return;
        }
        double targetShare = (double)target.BlockBytes / (target.BlockBytes + draft.BlockBytes);
        target.CapacityBytes = (long)(bytes * targetShare);
        draft.CapacityBytes = bytes - target.CapacityBytes;
    }

    /// <summary>Who may share a session's prefix blocks: its tenant, and everyone inside the operator's public prefixes.</summary>
    public PrefixScope? ScopeOf(string sessionId) => Prefixes is null ? null : new PrefixScope(VerifierScheduler.TenantOf(sessionId), models.PublicPrefixes);
    /// <summary>Server-side draft state of sessions decoded without an edge; touched only on the device thread.</summary>
    private readonly Dictionary<string, TreeDrafter> _serverDrafters = new();

    /// <summary>
    /// The batched drafting pass (<see cref="BatchTreeDrafting.BuildTrees"/>), replaced by tests alone: a pass that fails
    /// part-way (a draft forward out of device memory) cannot be caused from outside, and every tree of such a pass must
    /// still be dropped and its step decoded plainly (<see cref="DraftServerTrees"/>).
    /// </summary>
    internal Func<IReadOnlyList<TreeDrafter>, DraftMessage[]> DraftTreesTogether { get; init; } = BatchTreeDrafting.BuildTrees;

    /// <summary>The target model (its config and a new cache are read on the grain's thread; no tensor work).</summary>
    public CausalLm Model => _verifier.Model;

    /// <summary>KV bytes one more conversation may take on this device: a target cache, and with a server draft model its draft cache.</summary>
    public long BytesPerSequence
    {
        get
        {
            var t = Model.Config;
            long bytes = 2L * t.NumHiddenLayers * t.NumKeyValueHeads * models.Options.MaxContextTokens * t.HeadDim * Model.Weights.embed_tokens.ElementSize;
            if (models.ServerDraft(device) is { } draft)
            {
                // A server-decoded session also holds a draft cache on this device (reply-sized headroom included).
                var d = draft.Config;
                bytes += 2L * d.NumHiddenLayers * d.NumKeyValueHeads * (models.Options.MaxContextTokens + ServerTreeOptions().DraftCacheHeadroom)
                    * d.HeadDim * draft.Weights.embed_tokens.ElementSize;
            }
            return bytes;
        }
    }

    /// <summary>
    /// One device job, on the device thread: drafts the trees of server-drafted items, trims every tree by
    /// <paramref name="trim"/>, runs the whole batch in one target forward, and applies the verdicts to the server
    /// drafters. A draft that fails makes its item a plain decoding step: the output is the target's either way. Each
    /// item succeeds or fails alone.
    /// </summary>
    public Task<DeviceOutcome> RunAsync(IReadOnlyList<DeviceJob> batch, TrimRule trim) => models.Worker(device).RunAsync(() => Run(batch, trim));

    /// <summary>
    /// Frees a forgotten session's tensors on the device thread, after the forward in progress: freeing a cache from
    /// another thread in the middle of a forward that still uses it corrupts it (seen in the soak inside libtorch).
    /// </summary>
    public void Release(string sessionId, TargetSequence? sequence)
    {
        // Nothing to free (e.g. the first open of a session) without a sequence, or a server drafter, that could hold tensors.
        if (sequence is null && !models.HasServerDraft) return;
        _ = models.Worker(device).RunAsync(() =>
        {
            if (_serverDrafters.Remove(sessionId, out var drafter)) drafter.Dispose();
            _draftPromptsToKeep.Remove(sessionId);
            sequence?.Dispose();
            return true;
        });
    }

    /// <summary>Frees everything this device holds for <paramref name="sequences"/> and every server drafter, after the forward in progress.</summary>
    public Task ReleaseAllAsync(IReadOnlyList<TargetSequence> sequences) => models.Worker(device).RunAsync(() =>
    {
        foreach (var s in sequences) s.Dispose();
        Prefixes?.Dispose();
        _draftPrefixes?.Dispose();
        foreach (var d in _serverDrafters.Values) d.Dispose();
        _serverDrafters.Clear();
        _draftPromptsToKeep.Clear();
        return true;
    });

    /// <summary>The server drafter's trees: fixed 32 nodes, depth 4, or adaptive up to 48 nodes, depth 8 (both within MaxTreeNodes).</summary>
    public DraftTreeOptions ServerTreeOptions()
    {
        var fixedTree = new DraftTreeOptions { Budget = Math.Min(32, models.Options.MaxTreeNodes), Proactive = false };
        return models.Options.AdaptiveServerTrees
            ? fixedTree with { Budget = Math.Min(48, models.Options.MaxTreeNodes), MaxDepth = 8, Adaptive = new AdaptiveTreeOptions { MinBudget = Math.Min(4, models.Options.MaxTreeNodes) } }
            : fixedTree;
    }

    private DeviceOutcome Run(IReadOnlyList<DeviceJob> batch, TrimRule trim)
    {
        var works = batch.Select(b => b.Work).ToArray();
        // The server drafts only where its drafting pays at this forward's load (TrimRule.DraftsServerTrees); else its steps go plain.
        int serverSteps = batch.Count(b => b.ServerDrafted);
        bool draft = serverSteps > 0 && trim.DraftsServerTrees(works, serverSteps);
        var (drafted, passes) = draft ? DraftServerTrees(batch, works) : (new TreeDrafter?[batch.Count], new List<(int, double)>());
        // Trees priced and cut where they all exist; a server drafter learns the budget and drafts no more than pays next time.
        var (ran, verified, serverPays) = trim.ApplyWithHandBacks(batch.Select((b, i) => (b.SessionId, works[i])).ToList());
        var shape = ForwardShape.Of(ran);
        foreach (var w in ran) if (w is VerifyWork v) SpecEdgeMetrics.VerifiedTreeNodes.Record(v.Tree.Tokens.Length - 1);
        // Split the forward at the exit head only when some tree's early verdict has somewhere to go.
        _earlyListeners.Clear();
        for (int i = 0; i < batch.Count; i++)
            if (batch[i].Early is { } listener && ran[i] is VerifyWork) _earlyListeners[ran[i].Sequence] = listener;
        _verifier.EarlyVerdicts = _earlyListeners.Count > 0 ? DeliverEarlyVerdict : null;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var results = _verifier.Execute(ran);
        double forwardMs = clock.Elapsed.TotalMilliseconds;
        _earlyListeners.Clear();
        for (int i = 0; i < batch.Count; i++)
        {
            if (drafted[i] is not { } drafter) continue;
            if (results[i].Verdict is { } verdict)
            {
                // The queue belongs to the grain thread; the batch is known here.
                drafter.Complete(verdict, new VerifierLoad(batch.Count, 0, 0, 0, verified[i]));
                // The prompt's draft KV exists after the first verdict of a turn, the reply's when it ends.
                if (_draftPrefixes is { } prefixes && (_draftPromptsToKeep.Remove(batch[i].SessionId) || drafter.Finished))
                    KeepDraftPrefix(prefixes, batch[i].SessionId, drafter);
            }
            else if (_serverDrafters.Remove(batch[i].SessionId, out var failed)) failed.Dispose();   // a failed step: its drafter starts again
        }
        return new DeviceOutcome(results, works, ran, verified, shape, forwardMs)
            { ServerPays = serverPays, ServerDrafted = drafted.Select(d => d is not null).ToArray(), DraftPasses = passes };
    }

    /// <summary>
    /// Drafts the trees of the server-drafted items of <paramref name="batch"/>, making each a <see cref="VerifyWork"/> in
    /// <paramref name="works"/>: together, one batched draft forward per round, or one tree after another
    /// (SpecEdge:BatchServerDrafts). Returns each item's drafter (null: not drafted) and the passes' sizes and times. A
    /// drafter or tree that fails leaves its item a plain step and is dropped (rebuilt next time from the committed
    /// tokens); a batched pass that fails does so for every tree of the pass.
    /// </summary>
    private (TreeDrafter?[] Drafted, List<(int Trees, double Ms)> Passes) DraftServerTrees(IReadOnlyList<DeviceJob> batch, TargetWork[] works)
    {
        var drafted = new TreeDrafter?[batch.Count];
        var passes = new List<(int Trees, double Ms)>();
        var ready = new List<int>();
        for (int i = 0; i < batch.Count; i++)
        {
            if (!batch[i].ServerDrafted) continue;
            try
            {
                var drafter = ServerDrafter(batch[i].SessionId, batch[i].Work.Sequence);
                // One whose last tree never got its verdict (a forward that failed as a whole) cannot draft: it starts again.
                if (!drafter.CanBuildTree) throw new InvalidOperationException($"The server drafter of step {drafter.Step} still has a tree in flight.");
                drafter.FollowGrammar(batch[i].Work.Sequence.Sampling.Grammar, batch[i].Work.Sequence.PromptLength, _verifier.Masker);
                drafted[i] = drafter;
                ready.Add(i);
            }
            catch (Exception e)
            {
                DropServerDrafter(batch[i].SessionId, e);
            }
        }
        if (ready.Count == 0) return (drafted, passes);
        var trees = new DraftMessage?[batch.Count];
        var clock = System.Diagnostics.Stopwatch.StartNew();
        if (models.Options.BatchServerDrafts)
        {
            try
            {
                var built = DraftTreesTogether(ready.Select(i => drafted[i]!).ToList());
                for (int r = 0; r < ready.Count; r++) trees[ready[r]] = built[r];
                passes.Add((ready.Count, clock.Elapsed.TotalMilliseconds));
            }
            catch (Exception e)
            {
                foreach (int i in ready)
                {
                    DropServerDrafter(batch[i].SessionId, e);
                    drafted[i] = null;
                }
                return (drafted, passes);
            }
        }
        else
        {
            foreach (int i in ready)
            {
                try
                {
                    clock.Restart();
                    trees[i] = drafted[i]!.BuildTree();
                    passes.Add((1, clock.Elapsed.TotalMilliseconds));
                }
                catch (Exception e)
                {
                    DropServerDrafter(batch[i].SessionId, e);
                    drafted[i] = null;
                }
            }
        }
        foreach (int i in ready)
        {
            if (trees[i] is not { } tree || drafted[i] is null) continue;
            try
            {
                SpecEdgeMetrics.TreeSize.Record(tree.Tokens.Length - 1);
                batch[i].Work.Sequence.Validate(tree, Model.Config.VocabSize);
                works[i] = new VerifyWork(batch[i].Work.Sequence, tree);
            }
            catch (Exception e)
            {
                DropServerDrafter(batch[i].SessionId, e);
                drafted[i] = null;
            }
        }
        return (drafted, passes);
    }

    /// <summary>A server drafter that failed is dropped: its step is decoded plainly, and the session's next drafter starts from its committed tokens.</summary>
    private void DropServerDrafter(string sessionId, Exception e)
    {
        logger.LogWarning(e, "Device {Device}: server draft for session {Session} failed; decoding the step plainly", device, sessionId);
        if (_serverDrafters.Remove(sessionId, out var broken)) broken.Dispose();
    }

    /// <summary>Hands a tree's early verdict to its listener (device thread, mid-forward).</summary>
    private void DeliverEarlyVerdict(TargetSequence sequence, EarlyVerdict verdict)
    {
        if (_earlyListeners.TryGetValue(sequence, out var listener)) listener(verdict);
    }

    /// <summary>
    /// The session's server draft state, in step with its target sequence: kept across steps, moved on to a new turn,
    /// rebuilt from the committed tokens when an edge decoded in between (or anything else moved the sequence).
    /// </summary>
    private TreeDrafter ServerDrafter(string sessionId, TargetSequence sequence)
    {
        if (_serverDrafters.TryGetValue(sessionId, out var drafter))
        {
            if (drafter.Step == sequence.Step && drafter.Committed.Count == sequence.Committed.Count && !drafter.Finished) return drafter;
            // A new turn, or steps decoded without this drafter (an edge's, or plain ones while drafting did not pay): its
            // tokens are a prefix of the sequence's, so it catches up with the rest together with its next tree.
            if (drafter.Step <= sequence.Step && drafter.Committed.Count < sequence.Committed.Count && IsPrefix(drafter.Committed, sequence.Committed))
            {
                drafter.StartTurn(sequence.Committed.Skip(drafter.Committed.Count).ToArray(), sequence.Step);
                ReuseDraftPrefix(sessionId, drafter);
                return drafter;
            }
            _serverDrafters.Remove(sessionId);
            drafter.Dispose();
        }
        var options = ServerTreeOptions() with { GreedyVerification = sequence.Sampling.IsGreedy };
        drafter = new TreeDrafter(models.ServerDraft(device)!, sequence.Committed, options, models.Options.MaxContextTokens + options.DraftCacheHeadroom, sequence.Step)
            { ContextLimit = models.Options.MaxContextTokens };
        _serverDrafters[sessionId] = drafter;
        ReuseDraftPrefix(sessionId, drafter);
        return drafter;
    }

    private static bool IsPrefix(IReadOnlyList<int> prefix, IReadOnlyList<int> tokens)
    {
        for (int i = 0; i < prefix.Count; i++) if (prefix[i] != tokens[i]) return false;
        return true;
    }

    /// <summary>A server drafter starting a turn (or new) copies the draft KV of the longest cached prefix of its tokens.</summary>
    private void ReuseDraftPrefix(string sessionId, TreeDrafter drafter)
    {
        if (_draftPrefixes is not { } prefixes || ScopeOf(sessionId) is not { } scope) return;
        drafter.ReuseCachedPrefix(prefixes, scope);
        _draftPromptsToKeep.Add(sessionId);
    }

    /// <summary>Keeps a server drafter's committed draft KV. Best effort: a full or failing cache never fails the step.</summary>
    private void KeepDraftPrefix(PrefixCache prefixes, string sessionId, TreeDrafter drafter)
    {
        if (ScopeOf(sessionId) is not { } scope) return;
        try { prefixes.Insert(drafter.Cache, drafter.Committed, scope); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            logger.LogWarning(e, "Device {Device}: keeping the draft prefix of session {Session} failed; drafting goes on", device, sessionId);
        }
    }
}
