using System.Globalization;
using System.Text;

namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// Projects SpecEdge onto GPUs we cannot run here: the simulator with roofline costs (target on the server device,
/// draft on RTX 4090 edges or on the server), for target-only AR, server-only tree SD and edge-assisted SD, over a
/// range of session counts; plus the sessions each mode serves per GPU at an ITL target (capped by KV memory).
/// </summary>
public sealed record RooflineProjection(ProjectionSetting Setting, IReadOnlyList<ProjectionRow> Rows, IReadOnlyDictionary<string, (int ByItl, int ByMemory)> SessionsPerGpu,
    double ItlTargetMs)
{
    /// <summary>The modes projected; server-only SD twice: drafts batched over the batch (a strong baseline) and one tree after another.</summary>
    public static readonly ProjectionMode[] Modes =
    {
        new("target-only AR", DraftPlacement.None), new("server-only SD", DraftPlacement.Server),
        new("server-only SD, trees drafted one by one", DraftPlacement.Server, OneByOne: true),
        new("edge-assisted SD", DraftPlacement.Edge), new("edge-assisted SD + proactive", DraftPlacement.Edge, Proactive: true),
    };

    /// <summary>The same with goodput trimming: edge-assisted SD whose trees the verifier cuts to what pays at its load.</summary>
    public static readonly ProjectionMode Trimmed = new("edge-assisted SD, goodput trimming", DraftPlacement.Edge, Trim: true);

    /// <summary>The same with hand-backs: a session whose tree is cut to its root decodes plain steps on the server for a while (HandBackPolicy).</summary>
    public static readonly ProjectionMode TrimmedHandBack = new("edge-assisted SD, goodput trimming + hand-back", DraftPlacement.Edge, Trim: true, HandBack: true);

    /// <summary>
    /// The same on a silo with a draft model of its own that drafts one tree after another: hand-back steps are
    /// server-drafted where that pays, and a session is handed back when the server's own speculation beats its edge's
    /// loop (GoodputCut.ServerDecodingPays).
    /// </summary>
    public static readonly ProjectionMode TrimmedHandBackDrafted =
        new("edge-assisted SD, goodput trimming + server-drafted hand-back", DraftPlacement.Edge, OneByOne: true, Trim: true, HandBack: true, HandBackDrafts: true);

    /// <summary>The same with the silo's drafting as it runs now: a forward's hand-back trees drafted together (BatchTreeDrafting).</summary>
    public static readonly ProjectionMode TrimmedHandBackBatchDrafted =
        new("edge-assisted SD, goodput trimming + batch-drafted hand-back", DraftPlacement.Edge, Trim: true, HandBack: true, HandBackDrafts: true);

    /// <summary>
    /// Server-only SD as the silo runs it now: trees drafted one after another, trimmed by the goodput rule, and not
    /// drafted at all where drafting does not pay at the device's load (TrimRule.DraftsServerTrees): plain steps then.
    /// </summary>
    public static readonly ProjectionMode ServerDraftingWherePays = new("server-only SD, one by one, drafting where it pays", DraftPlacement.Server, OneByOne: true, Trim: true);

    /// <summary>Server-only SD as the silo runs it by default: a forward's trees drafted together, trimmed, and drafted only where that pays.</summary>
    public static readonly ProjectionMode BatchDraftingWherePays = new("server-only SD, batched, drafting where it pays", DraftPlacement.Server, Trim: true);

    public static RooflineProjection Run(ProjectionSetting setting, int[] sessions, int replies, double itlTargetMs, int seed)
    {
        var rows = new List<ProjectionRow>();
        var perGpu = new Dictionary<string, (int, int)>();
        foreach (var m in setting.Trim is null ? Modes
            : setting.HandBackSteps > 0 ? Modes.Concat(new[] { ServerDraftingWherePays, BatchDraftingWherePays, Trimmed, TrimmedHandBack, TrimmedHandBackDrafted, TrimmedHandBackBatchDrafted })
            : Modes.Concat(new[] { ServerDraftingWherePays, BatchDraftingWherePays, Trimmed }))
        {
            foreach (int n in sessions)
                rows.Add(new ProjectionRow(setting.Server.Name, m.Mode, m.Placement, n, Simulator.Run(setting.Config(m, n, replies, seed)),
                    setting.Server.DollarsPerHour, m.Placement == DraftPlacement.Edge ? setting.Edge.DollarsPerHour : 0));
            int memory = setting.KvCapacitySessions(m.Placement, m.HandBackDrafts);
            int byItl = SessionSearch.MaxSessions(n => Simulator.Run(setting.Config(m, n, Math.Min(replies, 2), seed)), itlTargetMs, Math.Max(1, Math.Min(memory, 1024)));
            perGpu[m.Mode] = (byItl, memory);
        }
        return new RooflineProjection(setting, rows, perGpu, itlTargetMs);
    }

    public string Table()
    {
        var s = new StringBuilder();
        var i = CultureInfo.InvariantCulture;
        string batching = Setting.MaxBatch > 0 ? string.Create(i, $"max batch {Setting.MaxBatch}")
            : string.Create(i, $"batch limited by KV memory (AR {Setting.BatchLimit(DraftPlacement.None)}, edge {Setting.BatchLimit(DraftPlacement.Edge)}, server SD {Setting.BatchLimit(DraftPlacement.Server)})");
        string trimming = Setting.Trim is { } t ? $"; trimming: {t.Description}" : "";
        s.AppendLine(i, $"Server {Setting.Server.Name} ({Setting.Server.BandwidthBytesPerSecond / 1e12:F2} TB/s, {Setting.Server.PeakFlopsPerSecond / 1e12:F0} TFLOPS, {Setting.Server.DollarsPerHour:F2} $/h), " +
            $"target {Setting.Target.Name}; edges {Setting.Edge.Name} ({Setting.Edge.DollarsPerHour:F2} $/h) with {Setting.Draft.Name}; RTT {Setting.RttSeconds * 1000:F0} ms; " +
            $"{Setting.Acceptance.Description}; proactive hit rate {Setting.ProactiveHitRate:P0}; prompt {Setting.PromptTokens}, reply {Setting.ReplyTokens} tokens; {batching}{trimming}");
        s.AppendLine(i, $"roofline: target verify of one {Setting.TreeBudget + 1}-token tree {Setting.TargetOnServer.Seconds(new[] { new VerifyItem(Setting.TreeBudget + 1, Setting.MeanContext) }) * 1000:F2} ms, " +
            $"of 8 trees {Setting.TargetOnServer.Seconds(Enumerable.Repeat(new VerifyItem(Setting.TreeBudget + 1, Setting.MeanContext), 8).ToList()) * 1000:F2} ms, " +
            $"one AR token {Setting.TargetOnServer.Seconds(new[] { new VerifyItem(1, Setting.MeanContext) }) * 1000:F2} ms; " +
            $"draft tree on the edge {Setting.EdgeDraftSeconds * 1000:F2} ms, on the server {Setting.ServerDraftSeconds(1) * 1000:F2} ms (1 tree) / {Setting.ServerDraftSeconds(8) * 1000:F2} ms (8 batched)");
        s.AppendLine();
        s.AppendLine("| mode | sessions | server tok/s | busy | ITL mean ms | ITL p50 ms | ITL p95 ms | TTFT p50 ms | mean batch | tokens/step | tokens per $ (k) |");
        s.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in Rows)
            s.AppendLine(i, $"| {r.Mode} | {r.Sessions} | {r.Result.SteadyTokensPerSecond:F0} | {r.Result.BusyFraction:P0} | {r.Result.ItlMeanMs:F1} | {r.Result.ItlP50Ms:F1} | " +
                $"{r.Result.ItlP95Ms:F1} | {r.Result.TtftP50Ms:F0} | {r.Result.MeanBatch:F1} | {r.Result.TokensPerStep:F2} | {r.TokensPerDollar / 1000:F0} |");
        s.AppendLine();
        s.AppendLine(i, $"Sessions per GPU at mean ITL <= {ItlTargetMs:F0} ms (and the KV-memory cap for prompt + reply):");
        foreach (var (mode, (byItl, memory)) in SessionsPerGpu)
            s.AppendLine(i, $"  {mode}: {byItl} (memory cap {memory})");
        return s.ToString();
    }

    /// <summary>Edge-assisted over server-only SD at each session count, beside the paper's headline figures.</summary>
    public string Headline()
    {
        var s = new StringBuilder("Edge-assisted SD over server-only SD (paper, A100 + RTX 4090, 14 ms RTT: server throughput x2.22, tokens per dollar x1.91, ITL -11.24 %):\n");
        var i = CultureInfo.InvariantCulture;
        foreach (var group in Rows.GroupBy(r => r.Sessions))
        {
            var server = group.Single(r => r.Mode == "server-only SD");
            var oneByOne = group.Single(r => r.Mode == "server-only SD, trees drafted one by one");
            var ar = group.Single(r => r.Mode == "target-only AR");
            foreach (var edge in group.Where(r => r.Placement == DraftPlacement.Edge))
                s.AppendLine(i, $"  {group.Key,3} sessions, {edge.Mode}: server throughput x{edge.Result.SteadyTokensPerSecond / server.Result.SteadyTokensPerSecond:F2}, " +
                    $"tokens per $ x{edge.TokensPerDollar / server.TokensPerDollar:F2}, ITL {(edge.Result.ItlMeanMs / server.Result.ItlMeanMs - 1) * 100:+0.0;-0.0} %" +
                    $" (vs one-by-one drafting: x{edge.Result.SteadyTokensPerSecond / oneByOne.Result.SteadyTokensPerSecond:F2}, x{edge.TokensPerDollar / oneByOne.TokensPerDollar:F2}, " +
                    $"{(edge.Result.ItlMeanMs / oneByOne.Result.ItlMeanMs - 1) * 100:+0.0;-0.0} %)" +
                    $"  | vs AR: throughput x{edge.Result.SteadyTokensPerSecond / ar.Result.SteadyTokensPerSecond:F2}, ITL {(edge.Result.ItlMeanMs / ar.Result.ItlMeanMs - 1) * 100:+0.0;-0.0} %");
        }
        int so = SessionsPerGpu["server-only SD"].ByItl;
        s.Append(i, $"  sessions per GPU at ITL <= {ItlTargetMs:F0} ms:");
        foreach (var (mode, (byItl, _)) in SessionsPerGpu)
            s.Append(i, $" {mode} {byItl}{(so > 0 && mode.StartsWith("edge") ? string.Create(i, $" (x{(double)byItl / so:F2})") : "")};");
        s.AppendLine();
        return s.ToString();
    }
}
