using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SpecEdge.Inference.Constraints;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Prefixes;
using SpecEdge.Inference.Speculative;
using SpecEdge.Inference.Tokenization;

namespace SpecEdge.Grains.Hosting;

/// <summary>
/// The models of this silo, loaded once at start-up and shared by its grains: one target per device (each verifier
/// owns one), the tokenizer, and an optional server-side draft model. Device memory lives here, not in grain state.
/// </summary>
public sealed class ModelHost : IDisposable
{
    private readonly CausalLm[] _targets;
    private readonly DeviceWorker[] _workers;

    public SpecEdgeSiloOptions Options { get; }
    public HfTokenizer Tokenizer { get; }
    public ChatFormat ChatFormat { get; }
    private readonly CausalLm[]? _serverDrafts;
    /// <summary>Whether the server drafts for itself (SpecEdge:ServerDraftModel) when no edge is attached.</summary>
    public bool HasServerDraft => _serverDrafts is not null;
    public int DeviceCount => _targets.Length;
    public int VocabSize => _targets[0].Config.VocabSize;
    /// <summary>Ids that end a reply: the model's EOS ids, the tokenizer's and the chat format's end of turn.</summary>
    public IReadOnlyCollection<int> StopTokenIds { get; }
    private readonly Lazy<TokenVocabulary> _vocabulary;
    /// <summary>The target's tokens as bytes for constrained (JSON) replies: built on first use (a 152k vocabulary takes about a second).</summary>
    public TokenVocabulary Vocabulary => _vocabulary.Value;

    public ModelHost(IOptions<SpecEdgeSiloOptions> options, ILogger<ModelHost> logger)
    {
        Options = options.Value;
        Options.Validate();
        if (Options.Threads > 0) TorchSharp.torch.set_num_threads(Options.Threads);
        var devices = Options.Devices.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (devices.Length == 0) throw new InvalidOperationException("SpecEdge:Devices lists no device.");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        _targets = devices.Select(d => CausalLm.Load(Options.TargetModel, Options.DType, d)).ToArray();
        _workers = devices.Select(d => new DeviceWorker(d)).ToArray();
        Tokenizer = HfTokenizer.Load(Options.TargetModel);
        ChatFormat = ChatFormat.For(Tokenizer);
        // One server draft per device, driven only by that device's worker thread (models are not thread-safe).
        if (Options.ServerDraftModel is { Length: > 0 } draftDir)
            _serverDrafts = devices.Select(d => CausalLm.Load(draftDir, Options.DType, d)).ToArray();

        if (Options.EarlyVerdicts)
            _exitHeads = _targets.Select(t => EarlyExitHead.Load(Options.TargetModel, t.Config, t.DType, t.Device)
                ?? throw new InvalidOperationException($"SpecEdge:EarlyVerdicts is on, but '{Options.TargetModel}' holds no {EarlyExitHead.WeightsFile}: " +
                    $"train one with `SpecEdge.Tools distill --target {Options.TargetModel} --early-exit-layer K`, or turn early verdicts off.")).ToArray();

        var stop = new HashSet<int>(_targets[0].Generation.EosTokenIds);
        stop.UnionWith(Tokenizer.EosTokenIds);
        if (Tokenizer.TokenToId(ChatFormat.EndOfTurnToken) is int eot) stop.Add(eot);
        StopTokenIds = stop;
        _vocabulary = new Lazy<TokenVocabulary>(() => TokenVocabulary.From(Tokenizer, StopTokenIds, VocabSize));

        PublicPrefixes = DeclaredPublicPrefixes();

        var c = _targets[0].Config;
        long bytes = _targets[0].Weights.All.Sum(t => t.numel() * t.ElementSize);
        logger.LogInformation(
            "Loaded target {Dir} ({Type}, {Layers} layers, d={Hidden}, vocab {Vocab}, {Params:F1}M params, {MB:F1} MB as {DType}) on {Devices} in {Sec:F1}s; chat format {Chat}; server draft: {Draft}",
            Options.TargetModel, c.ModelType, c.NumHiddenLayers, c.HiddenSize, c.VocabSize,
            _targets[0].Weights.All.Sum(t => t.numel()) / 1e6, bytes / 1e6, TensorSettings.Name(_targets[0].DType),
            string.Join(",", devices), clock.Elapsed.TotalSeconds, ChatFormat.Kind, Options.ServerDraftModel ?? "none");
    }

    /// <summary>The operator's public system prompts as tokens (<see cref="SpecEdgeSiloOptions.PublicPrefixes"/>).</summary>
    public PublicPrefixes PublicPrefixes { get; }

    /// <summary>
    /// Each declared system prompt as a conversation starts with it (the chat template's system turn) and as the start
    /// of a raw prompt: a block is public only where a conversation's own tokens match one of these.
    /// </summary>
    private PublicPrefixes DeclaredPublicPrefixes()
    {
        var prefixes = new List<IReadOnlyList<int>>();
        foreach (var prompt in Options.PublicPrefixes)
        {
            prefixes.Add(Tokenizer.Encode(ChatFormat.RenderSegments(new[] { new ChatMessage("system", prompt) }, addGenerationPrompt: false)));
            var raw = Tokenizer.Encode(prompt, parseSpecialTokens: false);
            prefixes.Add(Tokenizer.BosTokenId is int bos ? raw.Prepend(bos).ToArray() : raw);
        }
        return new PublicPrefixes(prefixes);
    }

    public CausalLm Target(int device) => _targets[device];

    /// <summary>The server's draft model on <paramref name="device"/>; null when the server does not draft.</summary>
    public CausalLm? ServerDraft(int device) => _serverDrafts?[device];

    private readonly EarlyExitHead[]? _exitHeads;

    /// <summary>The target's early-exit head on <paramref name="device"/>; null unless <c>SpecEdge:EarlyVerdicts</c> is on.</summary>
    public EarlyExitHead? ExitHead(int device) => _exitHeads?[device];

    /// <summary>The thread that runs all model work of <paramref name="device"/>: its target, its server draft.</summary>
    public DeviceWorker Worker(int device) => _workers[device];

    /// <summary>Stop criteria for a reply under <paramref name="maxNewTokens"/> and <paramref name="stopStrings"/>.</summary>
    public StopCriteria StopCriteria(int maxNewTokens, IReadOnlyList<string> stopStrings) =>
        new(StopTokenIds, maxNewTokens, stopStrings, ids => Tokenizer.Decode(ids, skipSpecialTokens: true));

    public void Dispose()
    {
        foreach (var w in _workers) w.Dispose();
        foreach (var t in _targets) t.Dispose();
        foreach (var d in _serverDrafts ?? Array.Empty<CausalLm>()) d.Dispose();
    }
}
