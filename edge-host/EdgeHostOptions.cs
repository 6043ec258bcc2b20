using SpecEdge.EdgeClient;
namespace SpecEdge.EdgeHost;

/// <summary>
/// Edge host settings (section <c>Edge</c>; short command-line switches in <see cref="Switches"/>, e.g.
/// <c>--draft models/demo/draft --prompt "Hello"</c>).
/// </summary>
public sealed class EdgeHostOptions
{
    public const string Section = "Edge";

    /// <summary>
    /// The silos' edge gateways, <c>https://host:port</c>, comma-separated (<c>http://</c> for a development silo without
    /// TLS); a broken stream reopens on the next one. The default transport: the chat mode drafts and chats over it and
    /// opens no Orleans connection. <c>off</c>: an operator-run edge with a cluster-CA certificate, on the Orleans
    /// gateways below (as are loads of many edges, tests/SpecEdge.EdgeLoad, without <see cref="EnrolUrls"/>).
    /// </summary>
    public string? EdgeGateway { get; set; } = "https://127.0.0.1:30443";

    /// <summary>Whether trees and chat go over the edge gateway (<see cref="EdgeGateway"/> is set and not <c>off</c>).</summary>
    public bool UsesEdgeGateway => !string.IsNullOrWhiteSpace(EdgeGateway) && !EdgeGateway.Equals("off", StringComparison.OrdinalIgnoreCase);
    /// <summary>
    /// The silos' HTTP API, <c>http(s)://host:port</c>, comma-separated: with <see cref="EdgeGateway"/>, <c>--serve</c>
    /// and loads of many edges (tests/SpecEdge.EdgeLoad) enrol their edges there (<c>POST /v1/edges</c>, with this
    /// process's service credential) and open no Orleans connection. Unset: a load enrols through an Orleans connection
    /// (an operator-run process with a cluster-CA certificate); <c>--serve</c> needs it.
    /// </summary>
    public string? EnrolUrls { get; set; }
    /// <summary>Orleans gateways to connect to, comma-separated host:port.</summary>
    public string Gateways { get; set; } = "127.0.0.1:30000";
    /// <summary>Orleans cluster id (Orleans transport only).</summary>
    public string ClusterId { get; set; } = "specedge";
    /// <summary>Orleans service id (Orleans transport only).</summary>
    public string ServiceId { get; set; } = "specedge";
    /// <summary>Hugging Face directory of the draft model (<c>--draft</c>).</summary>
    public string DraftModel { get; set; } = "models/demo/draft";
    /// <summary>Where the draft model runs: "cpu" or "cuda:N".</summary>
    public string Device { get; set; } = "cpu";
    /// <summary>The draft model's dtype: fp32, bf16, fp16 or auto (the checkpoint's own).</summary>
    public string DType { get; set; } = "auto";
    /// <summary>CPU threads for the draft model (0: TorchSharp's default).</summary>
    public int Threads { get; set; } = 1;
    /// <summary>Conversation to continue; empty starts a new one.</summary>
    public string? Session { get; set; }
    /// <summary>This edge's name in logs and snapshots; the credential's edge id wins when it names one.</summary>
    public string? EdgeId { get; set; }
    /// <summary>One-shot mode: send this message, print the reply, exit.</summary>
    public string? Prompt { get; set; }
    /// <summary>Sampling temperature of the replies this edge starts (0: greedy).</summary>
    public double Temperature { get; set; }
    /// <summary>Top-k of the replies this edge starts (0: off).</summary>
    public int TopK { get; set; }
    /// <summary>Top-p (nucleus) of the replies this edge starts (1: off).</summary>
    public double TopP { get; set; } = 1.0;
    /// <summary>Sampling seed of the replies this edge starts (empty: the session picks one).</summary>
    public ulong? Seed { get; set; }
    /// <summary>Longest reply, in tokens.</summary>
    public int MaxNewTokens { get; set; } = 128;
    /// <summary>Plain continuation instead of the chat template (the demo models are not chat-tuned).</summary>
    public bool Raw { get; set; }
    /// <summary>System message of a new conversation (chat template only).</summary>
    public string? SystemPrompt { get; set; }
    /// <summary>Draft the next tree while the verdict travels, betting on the draft's own path (proactive drafting).</summary>
    public bool Proactive { get; set; } = true;
    /// <summary>
    /// On an early verdict (a silo with SpecEdge:EarlyVerdicts on tells what its exit head would accept half-way through
    /// verifying), draft the next tree from it beside the proactive bet. Off: early verdicts are ignored.
    /// </summary>
    public bool DraftAhead { get; set; } = true;
    /// <summary>Draft tree size: nodes besides the root (a ceiling under the adaptive policy).</summary>
    public int Budget { get; set; } = 32;
    /// <summary>Draft tree depth (a ceiling under the adaptive policy).</summary>
    public int MaxDepth { get; set; } = 4;
    /// <summary>
    /// "fixed": every tree has Budget nodes and MaxDepth levels. "adaptive": each step's budget and depth follow the
    /// session's acceptance, the verifier's batch and queue and the round trip, with Budget and MaxDepth as ceilings
    /// (e.g. --tree-policy adaptive --budget 48 --max-depth 8), never above the server's limit.
    /// </summary>
    public string TreePolicy { get; set; } = "fixed";

    /// <summary>The draft tree settings these options describe.</summary>
    public SpecEdge.Inference.Speculative.DraftTreeOptions Tree() => new()
    {
        Budget = Budget, MaxDepth = MaxDepth, Proactive = Proactive, DraftAhead = DraftAhead, ProactiveDepth = Math.Min(3, MaxDepth),
        Adaptive = TreePolicy switch
        {
            "fixed" => null,
            "adaptive" => new SpecEdge.Inference.Speculative.AdaptiveTreeOptions { MinBudget = Math.Min(4, Budget), MinDepth = Math.Min(2, MaxDepth) },
            _ => throw new InvalidOperationException($"Edge:TreePolicy must be 'fixed' or 'adaptive', not '{TreePolicy}'."),
        },
    };
    /// <summary>Orleans transport of trees: Channel (a broadcast channel, verdicts by observer) or DirectCall.</summary>
    public TreeTransport Transport { get; set; } = TreeTransport.Channel;
    /// <summary>
    /// Each draft tree takes at least this many milliseconds (the rest of the real draft time is waited out): stands for
    /// an edge GPU's draft time when emulated edges share a few CPU cores. 0 = off.
    /// </summary>
    public double DraftDelayMs { get; set; }

    /// <summary>
    /// Serve the OpenAI-compatible API on this host:port (e.g. 127.0.0.1:8081) instead of chatting in the console:
    /// apps on this PC get the cluster's model with drafting done here. The cluster credential must be a service's; each
    /// reply's edge is enrolled over HTTP (<see cref="EnrolUrls"/>) and drafts over the edge gateway: no Orleans connection.
    /// </summary>
    public string? Serve { get; set; }
    /// <summary>File holding the key local apps must present (Authorization: Bearer); created with a random key if absent.</summary>
    public string ServeKeyFile { get; set; } = "edge-api.key";
    /// <summary>
    /// Serve this edge's metrics (meter SpecEdge.Edge and Orleans' client meter) in Prometheus format on this host:port,
    /// e.g. 127.0.0.1:9464 (path /metrics). Unauthenticated, so keep it on loopback. Empty: no metrics endpoint.
    /// </summary>
    public string? MetricsListen { get; set; }
    /// <summary>Replies drafted here at once (one draft model each); further concurrent replies are decoded by the cluster alone.</summary>
    public int ServeDraftSlots { get; set; } = 1;

    /// <summary>
    /// The conversation id <c>PREFIX-SUFFIX</c> of a soak or bench session. Conversation ids are <c>tenant/name</c>
    /// (<see cref="SpecEdge.Contracts.ConversationId"/>): a prefix with a '/' already names its tenant; a bare prefix is
    /// put in <paramref name="defaultTenant"/>. The issuer and the session refuse, by name, what still does not parse.
    /// </summary>
    public static string PrefixedConversationId(string prefix, string defaultTenant, string suffix) =>
        (prefix.Contains('/') ? prefix : defaultTenant + "/" + prefix) + "-" + suffix;

    /// <summary>
    /// Whether this process reaches the cluster over the edge gateway alone (no Orleans client): chat with
    /// <see cref="EdgeGateway"/>; <c>--serve</c> always (it enrols over HTTP, <see cref="EnrolUrls"/>); a load of many
    /// edges (tests/SpecEdge.EdgeLoad, <paramref name="enrolsEdges"/>) when it also enrols them over HTTP, since
    /// otherwise it enrols them through its Orleans connection.
    /// </summary>
    public bool GatewayOnly(bool enrolsEdges = false) => !string.IsNullOrWhiteSpace(Serve)
        || (UsesEdgeGateway && (!enrolsEdges || !string.IsNullOrWhiteSpace(EnrolUrls)));

    /// <summary>Switches that may stand alone (<c>--raw</c> means <c>--raw true</c>).</summary>
    public static readonly string[] Flags = { "--raw", "--proactive" };

    /// <summary>Gives stand-alone flags their implicit "true", since the configuration reader expects a value after each switch.</summary>
    public static string[] NormalizeArgs(string[] args)
    {
        var result = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            result.Add(args[i]);
            bool valueFollows = i + 1 < args.Length && !args[i + 1].StartsWith("--");
            if (Flags.Contains(args[i]) && !valueFollows) result.Add("true");
        }
        return result.ToArray();
    }

    public static readonly Dictionary<string, string> Switches = new()
    {
        ["--gateways"] = "Edge:Gateways", ["--draft"] = "Edge:DraftModel", ["--device"] = "Edge:Device", ["--dtype"] = "Edge:DType",
        ["--edge-gateway"] = "Edge:EdgeGateway", ["--enrol-url"] = "Edge:EnrolUrls", ["--session"] = "Edge:Session", ["--prompt"] = "Edge:Prompt", ["--temperature"] = "Edge:Temperature", ["--top-k"] = "Edge:TopK",
        ["--top-p"] = "Edge:TopP", ["--seed"] = "Edge:Seed", ["--max-new-tokens"] = "Edge:MaxNewTokens", ["--raw"] = "Edge:Raw",
        ["--system"] = "Edge:SystemPrompt", ["--proactive"] = "Edge:Proactive", ["--draft-ahead"] = "Edge:DraftAhead", ["--budget"] = "Edge:Budget", ["--max-depth"] = "Edge:MaxDepth", ["--tree-policy"] = "Edge:TreePolicy",
        ["--transport"] = "Edge:Transport", ["--threads"] = "Edge:Threads", ["--edge-id"] = "Edge:EdgeId",
        ["--draft-delay-ms"] = "Edge:DraftDelayMs",
        ["--serve"] = "Edge:Serve", ["--metrics"] = "Edge:MetricsListen", ["--serve-key-file"] = "Edge:ServeKeyFile", ["--serve-draft-slots"] = "Edge:ServeDraftSlots",
        ["--credential-file"] = "Credential:TokenFile", ["--certificate"] = "Tls:CertificateFile", ["--cluster-ca"] = "Tls:ClusterCaFile",
    };
}
