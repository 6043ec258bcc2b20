namespace SpecEdge.Grains.Hosting;

/// <summary>
/// Model serving settings of a silo (configuration section <c>SpecEdge</c>): appsettings.json, environment
/// (<c>SpecEdge__TargetModel</c>) or command line (<c>--SpecEdge:TargetModel</c>).
/// </summary>
public sealed class SpecEdgeSiloOptions
{
    public const string Section = "SpecEdge";

    /// <summary>Hugging Face directory of the target (verifying) model.</summary>
    public string TargetModel { get; set; } = "";
    /// <summary>Optional draft model used by the server itself when no edge is attached (server-side speculative decoding).</summary>
    public string? ServerDraftModel { get; set; }
    /// <summary>Devices this silo owns, one verifier each: "cpu" or e.g. "cuda:0,cuda:1".</summary>
    public string Devices { get; set; } = "cpu";
    /// <summary>
    /// fp32, bf16, fp16 or auto (the checkpoint's own). fp32 by default: in bf16 a prefill and step-by-step decoding
    /// round differently, so after a KV rebuild a near-tie can flip a greedy choice (measured with the demo pair).
    /// </summary>
    public string DType { get; set; } = "fp32";
    /// <summary>
    /// Most trees (or decode steps) verified in one forward; 0 (default): no cap, a forward takes what waits, bounded by
    /// the KV budget (which admits the conversations) and MaxQueuedSteps. Goodput trimming prices a larger batch's trees.
    /// </summary>
    public int MaxBatch { get; set; }
    /// <summary>KV cache memory per device; sessions beyond it are evicted least-recently-used and re-prefilled on return.</summary>
    public int KvMemoryMb { get; set; } = 2048;
    /// <summary>
    /// Tokens per block of the device's prefix cache (docs/benchmarks/prefix-cache.md): the keys and values of prompts
    /// and finished replies are kept, within what KvMemoryMb leaves free, and a conversation that starts the same way
    /// (a shared system prompt, a regenerated or edited last message, a rebuild after eviction) prefills only the rest.
    /// 0 turns the prefix cache off.
    /// </summary>
    public int PrefixCacheBlockTokens { get; set; } = 32;
    /// <summary>
    /// Share of KvMemoryMb that idle conversations' caches make way for (least recently used evicted first), so the prefix
    /// cache keeps room; replies in progress never give way to it. Beyond it, the prefix cache uses what is free.
    /// </summary>
    public double PrefixCacheShare { get; set; } = 0.25;
    /// <summary>
    /// System prompts an operator declares public: their blocks are shared across tenants. Everything else is shared
    /// only within a tenant, since a faster first token would tell one tenant what another sent (docs/security.md).
    /// </summary>
    public List<string> PublicPrefixes { get; set; } = new();
    /// <summary>
    /// Early exits: each forward that verifies edge trees is split after the target's exit head (<c>early_exit.*</c> in
    /// the target directory, from <c>SpecEdge.Tools distill --early-exit-layer K</c>), and each edge gets what the head
    /// would accept of its tree before the remaining layers run, to draft its next tree ahead. Never changes a reply.
    /// Costs a few percent per forward (docs/benchmarks/early-exit.md); off by default. On without a head: refused at start.
    /// </summary>
    public bool EarlyVerdicts { get; set; }
    /// <summary>Longest conversation (tokens) a session may reach.</summary>
    public int MaxContextTokens { get; set; } = 2048;
    /// <summary>Largest draft tree accepted from an edge (nodes besides the root).</summary>
    public int MaxTreeNodes { get; set; } = 64;
    /// <summary>
    /// Server-drafted sessions (no edge) get adaptive trees: budget and depth per step from the session's acceptance and
    /// the batch (ceilings 48 nodes, capped by MaxTreeNodes, and depth 8). False: the fixed 32-node depth-4 tree.
    /// </summary>
    public bool AdaptiveServerTrees { get; set; }
    /// <summary>
    /// The server drafts the trees of a forward's server-drafted steps together, one batched draft forward per round
    /// (BatchTreeDrafting), instead of one tree after another. Same trees either way; false is kept for comparison.
    /// </summary>
    public bool BatchServerDrafts { get; set; } = true;
    /// <summary>An attached edge that sends no tree for this long while a reply is due loses the reply to the server.</summary>
    public double EdgeLeaseSeconds { get; set; } = 5;
    /// <summary>
    /// Send a step's verdict to the edge while its state write runs (readers still see the step only once durable).
    /// false makes the verdict wait for the write: the behaviour before, kept for comparison (the durability benchmark).
    /// </summary>
    public bool PipelinedStateWrites { get; set; } = true;
    /// <summary>
    /// How a verifier fills its forwards: WorkConserving (everything waiting) or PipelineAware (edge trees split into
    /// groups that take turns when edges need about a forward's time to come back; see PipelineBatchPlanner).
    /// </summary>
    public SpecEdge.Grains.Verification.BatchingPolicy Batching { get; set; } = SpecEdge.Grains.Verification.BatchingPolicy.WorkConserving;
    /// <summary>
    /// How much of each draft tree a forward verifies. Goodput (default): the nodes that raise the forward's expected
    /// tokens per millisecond, priced by a cost line learnt on this device and each session's acceptance, so that at load
    /// speculation never costs more than plain decoding (a tree cut to its root is a plain step). Off: whole trees (the
    /// behaviour before). Forced: every tree cut to ForcedTreeNodes nodes (tests and diagnostics).
    /// </summary>
    public SpecEdge.Inference.Speculative.TrimMode TreeTrimming { get; set; } = SpecEdge.Inference.Speculative.TrimMode.Goodput;
    /// <summary>With TreeTrimming Forced: the nodes (besides the root) every tree is cut to.</summary>
    public int ForcedTreeNodes { get; set; }
    /// <summary>
    /// Hand-backs: when the verifier finds a session better served by plain decoding on the server than by its edge's
    /// loop (a tree cut to its root, or one whose tokens are worth less than its device time and the edge's turnaround),
    /// the session decodes plain steps on the server before the edge's next tree (one the first time, then this many
    /// while that goes on) and hands their tokens to the edge with the verdict (readers of the reply see each as it commits).
    /// The edge's round trip then stops costing every token its latency and the device its share of the forwards. 0 turns
    /// hand-backs off (the behaviour before). 64: on a GPU a step takes a few milliseconds, and runs of 16 left an edge
    /// step in every 17 (docs/benchmarks/goodput.md); HandBackMaxMilliseconds bounds a run's time whatever its steps.
    /// </summary>
    public int HandBackSteps { get; set; } = 64;
    /// <summary>
    /// A hand-back stops after this long, whatever its steps, so the edge and the session's other callers (a detach, a
    /// new edge's attach) wait at most about this; a stop of the reply ends the run at its next step. Readers of the reply
    /// see its steps as they commit. 2000: each run ends with a step of the edge's loop, which (with DecodeWhileEdgeDrafts
    /// off) takes the session out of the forwards for the edge's turnaround; in the capacity simulator runs of 2 s served
    /// 0–8 % more tokens/s than runs of 500 ms (docs/benchmarks/goodput.md, measured before DecodeWhileEdgeDrafts).
    /// </summary>
    public double HandBackMaxMilliseconds { get; set; } = 2000;
    /// <summary>
    /// The server decodes a reply's first step itself, at turn start, when an edge is attached: it has just computed the
    /// prompt, so the first token costs one plain step and reaches readers as soon as target-only decoding would give it.
    /// The edge learns it with the turn (<c>TurnStarted.FirstTokens</c>) and drafts from the token after it. Off, the
    /// reply's first token waits for the edge's draft of its first tree and that tree's verification (the behaviour before:
    /// 1.5–2.5× target-only AR's time to first token on the 2-core VM, docs/benchmarks/goodput.md).
    /// </summary>
    public bool ServerFirstToken { get; set; } = true;
    /// <summary>
    /// After a hand-back run the server goes on decoding the reply while the edge drafts its next tree, and that tree,
    /// drafted for where the run ended, is moved onto the step the session has reached (the subtree under the tokens
    /// committed meanwhile, or its root alone if they left it) before it is verified. The session then never leaves the
    /// forwards for its edge's turnaround. False: the session waits for the edge's tree after each run (the behaviour
    /// before, which in the capacity simulator served 1–6 % fewer tokens/s at 16–256 sessions, docs/benchmarks/goodput.md).
    /// </summary>
    public bool DecodeWhileEdgeDrafts { get; set; } = true;
    /// <summary>Send each edge step's silo-side breakdown (queue, verify, persist) in its verdict: ~20 bytes, for benchmarks.</summary>
    public bool StepTimings { get; set; }
    /// <summary>Intra-op threads for TorchSharp (0 = library default).</summary>
    public int Threads { get; set; }
    /// <summary>
    /// How a forward is shared when more steps wait than it takes. True (default): round robin across tenants (the
    /// conversation id's tenant), each tenant's steps in arrival order, so one tenant's many replies cannot hold another
    /// tenant's reply back. False: arrival order, whoever queued (the behaviour before, kept for comparison).
    /// </summary>
    public bool FairShares { get; set; } = true;
    /// <summary>
    /// Relative shares under <see cref="FairShares"/>: <c>SpecEdge:TenantWeights:&lt;tenant&gt;</c> = N (default 1) gives
    /// that tenant N slots in each round of a forward.
    /// </summary>
    public Dictionary<string, int> TenantWeights { get; set; } = new();
    /// <summary>
    /// Under <see cref="FairShares"/>, while tenants of unequal demand step at once (one with a reply or two beside one
    /// with dozens), a forward may cost at most this many times one equal round: every active tenant's share, as many
    /// steps as the lightest tenant has replies. A light tenant's step waits for the forward in progress and then rides
    /// one, so this bounds that part of its slowdown; the heavy tenant pays in batch size on a device where each sequence
    /// costs (a CPU). On a GPU below its compute knee nearly any batch fits. 0 (default): forwards are filled up to
    /// MaxBatch. Measured on 2 CPU cores (docs/benchmarks/fairness.md) it cut the light tenant's p99 more than its p50.
    /// </summary>
    public double FairForwardStretch { get; set; }
    /// <summary>Most steps waiting for one device; beyond it new steps are refused as "at capacity".</summary>
    public int MaxQueuedSteps { get; set; } = 256;
    /// <summary>Replies one tenant (the verified caller's) may have in progress at once; 0 = no limit. Operators are exempt.</summary>
    public int MaxActiveRepliesPerTenant { get; set; } = 64;
    /// <summary>
    /// Conversations the OpenAI-compatible API remembers per tenant for continuing a session from a stateless request;
    /// past it the oldest are forgotten (and re-encoded if they come back).
    /// </summary>
    public int MaxIndexedConversations { get; set; } = 10_000;
    /// <summary>A step that waited this long for the device fails instead of running late.</summary>
    public double QueueTimeoutSeconds { get; set; } = 30;

    // Limits on what a caller may ask of a session. They are checked before any work (tokenising, verifier calls), so
    // an absurd request costs nothing and its caller learns which field broke which limit.

    /// <summary>Most characters in one user message; checked on the text, before it is tokenised.</summary>
    public int MaxMessageChars { get; set; } = 32768;
    /// <summary>Most characters in a session's system prompt.</summary>
    public int MaxSystemPromptChars { get; set; } = 16384;
    /// <summary>Most stop strings in a session's settings (each one is matched against every step's text).</summary>
    public int MaxStopStrings { get; set; } = 16;
    /// <summary>Longest stop string (characters); the stop check decodes a window this long for each new token.</summary>
    public int MaxStopStringChars { get; set; } = 256;
    /// <summary>Largest MaxNewTokens a session may ask for; 0 means MaxContextTokens (a reply cannot outgrow the context anyway).</summary>
    public int MaxNewTokensLimit { get; set; }
    /// <summary>Highest sampling temperature accepted; beyond it sampling is uniform noise in all but name.</summary>
    public double MaxTemperature { get; set; } = 100;

    /// <summary><see cref="MaxNewTokensLimit"/> with 0 resolved to <see cref="MaxContextTokens"/>.</summary>
    public int EffectiveMaxNewTokens => MaxNewTokensLimit > 0 ? MaxNewTokensLimit : MaxContextTokens;

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(TargetModel))
            throw new InvalidOperationException("SpecEdge:TargetModel is not set: give the target model's Hugging Face directory.");
        if (!Directory.Exists(TargetModel))
            throw new DirectoryNotFoundException($"SpecEdge:TargetModel '{TargetModel}' does not exist.");
        if (ServerDraftModel is { Length: > 0 } && !Directory.Exists(ServerDraftModel))
            throw new DirectoryNotFoundException($"SpecEdge:ServerDraftModel '{ServerDraftModel}' does not exist.");
        if (MaxBatch < 0) throw new InvalidOperationException($"SpecEdge:MaxBatch must be 0 (no cap) or more (got {MaxBatch}).");
        if (MaxContextTokens < 16) throw new InvalidOperationException($"SpecEdge:MaxContextTokens must be at least 16 (got {MaxContextTokens}).");
        if (MaxTreeNodes < 1) throw new InvalidOperationException($"SpecEdge:MaxTreeNodes must be at least 1 (got {MaxTreeNodes}).");
        if (PrefixCacheBlockTokens < 0 || PrefixCacheBlockTokens > 1024)
            throw new InvalidOperationException($"SpecEdge:PrefixCacheBlockTokens must be 0 (off) to 1024 (got {PrefixCacheBlockTokens}).");
        if (!(PrefixCacheShare >= 0 && PrefixCacheShare <= 1))
            throw new InvalidOperationException($"SpecEdge:PrefixCacheShare must be within 0..1 (got {PrefixCacheShare}).");
        for (int i = 0; i < PublicPrefixes.Count; i++)
            if (string.IsNullOrEmpty(PublicPrefixes[i]) || PublicPrefixes[i].Length > MaxSystemPromptChars)
                throw new InvalidOperationException($"SpecEdge:PublicPrefixes:{i} must be a system prompt of 1 to MaxSystemPromptChars ({MaxSystemPromptChars}) characters (got {PublicPrefixes[i]?.Length ?? 0}).");
        if (KvMemoryMb < 1) throw new InvalidOperationException($"SpecEdge:KvMemoryMb must be positive (got {KvMemoryMb}).");
        if (MaxQueuedSteps < Math.Max(1, MaxBatch)) throw new InvalidOperationException($"SpecEdge:MaxQueuedSteps must be at least MaxBatch ({MaxBatch}) and 1 (got {MaxQueuedSteps}).");
        foreach (var (tenant, weight) in TenantWeights)
            if (weight < 1) throw new InvalidOperationException($"SpecEdge:TenantWeights:{tenant} must be at least 1 (got {weight}).");
        if (!(FairForwardStretch == 0 || (FairForwardStretch >= 1 && double.IsFinite(FairForwardStretch))))
            throw new InvalidOperationException($"SpecEdge:FairForwardStretch must be 0 (off) or a finite number of at least 1 (got {FairForwardStretch}).");
        if (!Enum.IsDefined(TreeTrimming)) throw new InvalidOperationException($"SpecEdge:TreeTrimming must be Goodput, Off or Forced (got {TreeTrimming}).");
        if (ForcedTreeNodes < 0 || ForcedTreeNodes > MaxTreeNodes)
            throw new InvalidOperationException($"SpecEdge:ForcedTreeNodes must be within 0..MaxTreeNodes ({MaxTreeNodes}) (got {ForcedTreeNodes}).");
        if (HandBackSteps < 0 || HandBackSteps > 1024)
            throw new InvalidOperationException($"SpecEdge:HandBackSteps must be 0 (off) to 1024 (got {HandBackSteps}).");
        if (!(HandBackMaxMilliseconds > 0 && HandBackMaxMilliseconds <= 10_000))
            throw new InvalidOperationException($"SpecEdge:HandBackMaxMilliseconds must be positive and at most 10000 (got {HandBackMaxMilliseconds}).");
        if (!(QueueTimeoutSeconds > 0)) throw new InvalidOperationException($"SpecEdge:QueueTimeoutSeconds must be positive (got {QueueTimeoutSeconds}).");
        if (MaxMessageChars < 1) throw new InvalidOperationException($"SpecEdge:MaxMessageChars must be at least 1 (got {MaxMessageChars}).");
        if (MaxSystemPromptChars < 0) throw new InvalidOperationException($"SpecEdge:MaxSystemPromptChars must not be negative (got {MaxSystemPromptChars}).");
        if (MaxStopStrings < 0) throw new InvalidOperationException($"SpecEdge:MaxStopStrings must not be negative (got {MaxStopStrings}).");
        if (MaxStopStringChars < 1) throw new InvalidOperationException($"SpecEdge:MaxStopStringChars must be at least 1 (got {MaxStopStringChars}).");
        if (MaxNewTokensLimit < 0) throw new InvalidOperationException($"SpecEdge:MaxNewTokensLimit must not be negative (got {MaxNewTokensLimit}; 0 means MaxContextTokens).");
        if (!(double.IsFinite(MaxTemperature) && MaxTemperature > 0))
            throw new InvalidOperationException($"SpecEdge:MaxTemperature must be a positive finite number (got {MaxTemperature}).");
    }
}
