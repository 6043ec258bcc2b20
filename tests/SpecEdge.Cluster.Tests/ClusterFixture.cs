using Microsoft.Extensions.Logging;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using SpecEdge.Grains.Hosting;
using SpecEdge.Grains.Security;
using SpecEdge.EdgeClient;
using SpecEdge.EdgeHost;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Speculative;
using Xunit;
using static TorchSharp.torch;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// A real in-process Orleans cluster hosting the SpecEdge grains with small random-weight models that use the demo
/// tokenizer. Also holds an independent copy of the target for computing reference greedy outputs.
/// </summary>
public class ClusterFixture : IAsyncLifetime
{
    protected virtual short Silos => 1;

    /// <summary>Adds files beside the target's checkpoint before the silos start (e.g. an early-exit head).</summary>
    protected virtual void PrepareTarget(CausalLm target, string targetDir) { }

    /// <summary>Adjusts the silos' model options (e.g. a server-side draft, a small KV budget).</summary>
    protected virtual void ConfigureModels(SpecEdgeSiloOptions options) { }

    /// <summary>Directory of the unrelated draft model (usable as a server-side draft).</summary>
    public string UnrelatedDraftDir { get; private set; } = "";

    /// <summary>Adds the session storage; the default keeps sessions in memory.</summary>
    protected virtual void ConfigureStorage(ISiloBuilder silo) => silo.AddMemoryGrainStorage("sessions");

    public InProcessTestCluster Cluster { get; private set; } = null!;
    public IClusterClient Client => Cluster.Client;
    public string TargetDir { get; private set; } = "";
    /// <summary>Drafts: a perfect one (the target's own weights) and an unrelated one.</summary>
    public CausalLm PerfectDraft { get; private set; } = null!;
    public CausalLm UnrelatedDraft { get; private set; } = null!;
    public CausalLm Reference { get; private set; } = null!;
    /// <summary>The cluster's signing key (random per fixture): tests mint credentials of every role with it.</summary>
    public string SigningKeyBase64 { get; } = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
    public SigningKeySet Keys => SigningKeySet.FromBase64("test", new Dictionary<string, string> { ["test"] = SigningKeyBase64 });

    /// <summary>What <see cref="Client"/> presents unless a test scopes another token with <see cref="CallerCredential.Use"/>.</summary>
    public string OperatorToken => Issue(new AccessCredential { Role = CredentialRole.Operator });
    public string ServiceToken(string tenant) => Issue(new AccessCredential { Role = CredentialRole.Service, Tenant = tenant });
    public string EdgeToken(string conversationId, string edgeId, bool chat = false, TimeSpan? lifetime = null) =>
        Issue(new AccessCredential { Role = CredentialRole.Edge, ConversationId = conversationId, EdgeId = edgeId, Chat = chat }, lifetime);

    public string Issue(AccessCredential claims, TimeSpan? lifetime = null) =>
        CredentialCodec.Sign(claims with { ExpiresAt = DateTimeOffset.UtcNow.Add(lifetime ?? TimeSpan.FromDays(1)).ToUnixTimeSeconds() }, Keys);

    public ModelHost Models => ((InProcessSiloHandle)Cluster.Silos[0]).ServiceProvider.GetRequiredService<ModelHost>();

    public virtual async Task InitializeAsync()
    {
        TorchSharp.torch.set_num_threads(1);
        string tokenizerDir = Path.Combine(RepoRoot(), "models", "demo", "target");
        int vocab = SpecEdge.Inference.Tokenization.HfTokenizer.Load(tokenizerDir).VocabSize;
        var config = new ModelConfig
        {
            ModelType = "qwen3", VocabSize = vocab, HiddenSize = 64, IntermediateSize = 128, NumHiddenLayers = 2,
            NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 16, TieWordEmbeddings = true, MaxPositionEmbeddings = 2048,
        };
        TargetDir = WriteModel(config, seed: 11, tokenizerDir);
        string unrelatedDir = WriteModel(config with { NumHiddenLayers = 1 }, seed: 12, tokenizerDir);
        UnrelatedDraftDir = unrelatedDir;
        PerfectDraft = CausalLm.Load(TargetDir);
        UnrelatedDraft = CausalLm.Load(unrelatedDir);
        Reference = CausalLm.Load(TargetDir);
        PrepareTarget(Reference, TargetDir);

        var builder = new InProcessTestClusterBuilder(Silos);
        string target = TargetDir, key = SigningKeyBase64, operatorToken = OperatorToken;
        // TLS on, as in production: silos and the test's Orleans client with cluster-CA certificates (edges reach the cluster
        // through the edge gateway; the Orleans edge path tested here is that of operator-run edges).
        var (tls, clientTls) = TestCertificates.Pki("fixture");
        builder.ConfigureSilo((_, silo) =>
        {
            if (Environment.GetEnvironmentVariable("SPECEDGE_TEST_LOG") is { Length: > 0 } log)
                silo.Services.AddLogging(logging => logging.AddProvider(new FileLoggerProvider(log)));
            ConfigureStorage(silo);
            silo.AddSpecEdgeSecurity(o => { o.Keys["test"] = key; o.ActiveKeyId = "test"; });
            silo.UseSpecEdgeTls(tls);
            silo.AddSpecEdge(o =>
        {
            o.TargetModel = target;
            o.MaxBatch = 8;
            o.MaxContextTokens = 512;
            o.MaxTreeNodes = 40;
            o.EdgeLeaseSeconds = 3;
            // Trees are verified whole here: these tests check acceptance depth and tree shapes through the cluster,
            // which goodput trimming changes by this machine's timing. Trimming has fixtures of its own
            // (TrimmedTreeClusterFixture) and runs in the soak and the process tests, which keep the default.
            o.TreeTrimming = SpecEdge.Inference.Speculative.TrimMode.Off;
            ConfigureModels(o);
        }, inMemorySessions: false);
        });
        builder.ConfigureClient(client => client.AddBroadcastChannel(ChannelNames.Provider).AddSpecEdgeCredential(o => o.Token = operatorToken).UseSpecEdgeTls(clientTls));
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public virtual async Task DisposeAsync()
    {
        if (Cluster is not null)
        {
            await Cluster.StopAllSilosAsync();
            await Cluster.DisposeAsync();
        }
        PerfectDraft?.Dispose();
        UnrelatedDraft?.Dispose();
        Reference?.Dispose();
    }

    /// <summary>The target's own greedy reply to <paramref name="prompt"/> under the silo's stop rules, computed in-process.</summary>
    public int[] ReferenceGreedy(int[] prompt, int maxNewTokens) => ReferenceReply(prompt, new GenerationSettings { MaxNewTokens = maxNewTokens, Seed = 0 });

    /// <summary>
    /// The target's own reply to <paramref name="prompt"/> under <paramref name="settings"/> (which must carry a seed)
    /// and the silo's stop rules: target-only decoding in-process, the reference every path must equal at any temperature.
    /// </summary>
    public int[] ReferenceReply(int[] prompt, GenerationSettings settings)
    {
        var sampling = new Inference.Sampling.SamplingParams(settings.Temperature, settings.TopK, settings.TopP,
            settings.Seed ?? throw new ArgumentException("A reference sample needs the session's seed."));
        lock (Reference)
        {
            var request = new GenerationRequest(prompt, sampling, Models.StopCriteria(settings.MaxNewTokens, settings.StopStrings));
            return AutoregressiveDecoder.Generate(new TargetVerifier(Reference), new[] { request }, capacity: 512)[0].Tokens;
        }
    }

    /// <summary>
    /// Where each assistant reply begins in a ChatML conversation's tokens: just after every
    /// "&lt;|im_start|&gt;assistant\n" header, in order. The tokens before a reply are its prompt.
    /// </summary>
    public int[] ReplyStarts(int[] committed)
    {
        var header = Models.Tokenizer.Encode("<|im_start|>assistant\n");
        var starts = Enumerable.Range(header.Length, Math.Max(0, committed.Length - header.Length + 1))
            .Where(end => committed.AsSpan(end - header.Length, header.Length).SequenceEqual(header)).ToArray();
        if (starts.Length == 0) throw new InvalidOperationException("no assistant header in the committed tokens");
        return starts;
    }

    internal static string WriteModel(ModelConfig config, long seed, string tokenizerDir)
    {
        string dir = Path.Combine(Path.GetTempPath(), "specedge-cluster-tests", $"{seed}-{Guid.NewGuid():N}");
        using (var weights = ModelWeights.Random(config, seed, ScalarType.Float32, std: 0.3))
        using (var model = new CausalLm(config, weights, ScalarType.Float32, CPU))
            model.Save(dir);
        foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json" })
            File.Copy(Path.Combine(tokenizerDir, file), Path.Combine(dir, file));
        return dir;
    }

    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SpecEdge.Orleans.sln"))) return dir.FullName;
        throw new InvalidOperationException("Cannot find the repository root (SpecEdge.Orleans.sln) above " + AppContext.BaseDirectory);
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}
