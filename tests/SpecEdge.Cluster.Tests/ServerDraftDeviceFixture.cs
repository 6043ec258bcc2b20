using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SpecEdge.Grains.Hosting;
using SpecEdge.Grains.Verification;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;
using Xunit;
using static TorchSharp.torch;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// One device without a cluster: the silo's models (the clusters' small random target, drafting for itself as the server
/// draft, as in <see cref="ServerDraftClusterFixture"/>) for tests that drive a <see cref="DeviceRunner"/> job by job,
/// where a fault can be placed between two steps, and a copy of the target for the reference replies.
/// </summary>
public sealed class ServerDraftDeviceFixture : IDisposable
{
    public const int MaxContextTokens = 512;

    public ModelHost Models { get; }
    private readonly CausalLm _reference;

    public ServerDraftDeviceFixture()
    {
        set_num_threads(1);
        string tokenizerDir = Path.Combine(ClusterFixture.RepoRoot(), "models", "demo", "target");
        int vocab = SpecEdge.Inference.Tokenization.HfTokenizer.Load(tokenizerDir).VocabSize;
        var config = new ModelConfig
        {
            ModelType = "qwen3", VocabSize = vocab, HiddenSize = 64, IntermediateSize = 128, NumHiddenLayers = 2,
            NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 16, TieWordEmbeddings = true, MaxPositionEmbeddings = 2048,
        };
        string target = ClusterFixture.WriteModel(config, seed: 11, tokenizerDir);
        Models = new ModelHost(Options.Create(new SpecEdgeSiloOptions
        {
            TargetModel = target, ServerDraftModel = target, Threads = 1, MaxContextTokens = MaxContextTokens, MaxTreeNodes = 40,
        }), NullLogger<ModelHost>.Instance);
        _reference = CausalLm.Load(target);
    }

    /// <summary>A new runner on device 0 (its own server drafters and prefix caches), as a verifier grain makes one.</summary>
    public DeviceRunner Runner(Func<IReadOnlyList<TreeDrafter>, DraftMessage[]>? draftTreesTogether = null) =>
        new(Models, 0, NullLogger.Instance) { DraftTreesTogether = draftTreesTogether ?? BatchTreeDrafting.BuildTrees };

    /// <summary>
    /// A greedy reply's sequence on <paramref name="runner"/>'s device, as the verifier opens one (still to be
    /// prefilled), with a KV cache of <paramref name="cacheTokens"/> (MaxContextTokens unless a test wants one too small).
    /// </summary>
    public TargetSequence Greedy(DeviceRunner runner, string sessionId, string prompt, int maxNewTokens, int cacheTokens = MaxContextTokens)
    {
        var tokens = Models.Tokenizer.Encode(prompt);
        return new TargetSequence(runner.Model.NewCache(cacheTokens), tokens, tokens.Length, SamplingParams.Greedy, Models.StopCriteria(maxNewTokens, Array.Empty<string>()))
            { MaxTreeNodes = Models.Options.MaxTreeNodes, PrefixScope = runner.ScopeOf(sessionId) };
    }

    /// <summary>The target's own greedy reply to <paramref name="prompt"/> under the silo's stop rules: what every path must commit.</summary>
    public int[] ReferenceGreedy(IReadOnlyList<int> prompt, int maxNewTokens)
    {
        lock (_reference)
        {
            var request = new GenerationRequest(prompt.ToArray(), SamplingParams.Greedy, Models.StopCriteria(maxNewTokens, Array.Empty<string>()));
            return AutoregressiveDecoder.Generate(new TargetVerifier(_reference), new[] { request }, capacity: MaxContextTokens)[0].Tokens;
        }
    }

    /// <summary>
    /// One device job of server-decoded steps, each to be drafted by the server, as the verifier queues them. The tests
    /// run it under <see cref="TrimRule.None"/>: the server always drafts, and its trees are verified whole.
    /// </summary>
    public static List<DeviceJob> ServerDecoded(params (string SessionId, TargetSequence Sequence)[] steps) =>
        steps.Select(s => new DeviceJob(s.SessionId, new DecodeWork(s.Sequence), ServerDrafted: true)).ToList();

    /// <summary>Prefills <paramref name="sequences"/> in one job (the opens of their sessions).</summary>
    public static Task Prefill(DeviceRunner runner, params (string SessionId, TargetSequence Sequence)[] sequences) =>
        runner.RunAsync(sequences.Select(s => new DeviceJob(s.SessionId, new PrefillWork(s.Sequence), ServerDrafted: false)).ToList(), TrimRule.None);

    /// <summary>Runs server-decoded steps of the sequences still replying until every reply has finished.</summary>
    public static async Task FinishReplies(DeviceRunner runner, params (string SessionId, TargetSequence Sequence)[] sequences)
    {
        for (int job = 0; job < 4 * MaxContextTokens && sequences.Any(s => !s.Sequence.Finished); job++)
        {
            var outcome = await runner.RunAsync(ServerDecoded(sequences.Where(s => !s.Sequence.Finished).ToArray()), TrimRule.None);
            Assert.All(outcome.Results, r => Assert.Null(r.Error));
        }
        Assert.All(sequences, s => Assert.True(s.Sequence.Finished, $"the reply of {s.SessionId} did not finish"));
    }

    public void Dispose()
    {
        Models.Dispose();
        _reference.Dispose();
    }
}
