using SpecEdge.Contracts;
using SpecEdge.EdgeClient;
using SpecEdge.EdgeHost;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Speculative;

namespace SpecEdge.Cluster.Tests;

internal static class SessionTestHelpers
{
    public static readonly string[] Prompts =
    {
        "The history of the city begins", "He said that the committee would", "In the morning the farmers",
        "Write a short note about rivers", "What is the capital of the state", "Translate: the house is red",
        "def add(a, b): return", "Two plus two equals",
    };

    public static GenerationSettings Greedy(int maxNewTokens = 24) => new() { Temperature = 0, MaxNewTokens = maxNewTokens };

    /// <summary>Sampling at temperature 0.9 with nucleus 0.95 and a fixed seed: replies that vary with the seed only.</summary>
    public static GenerationSettings Sampled(ulong seed, int maxNewTokens = 24) => new() { Temperature = 0.9, TopP = 0.95, Seed = seed, MaxNewTokens = maxNewTokens };

    /// <summary>Runs one edge-assisted reply and returns the tokens of the reply and the prompt the session used.</summary>
    public static async Task<(int[] Reply, int[] Prompt, ReplyStats Stats)> EdgeReplyAsync(ClusterFixture f, string sessionId, string text,
        CausalLm draft, bool proactive, TreeTransport transport = TreeTransport.Channel, int maxNewTokens = 24,
        GenerationSettings? settings = null, DraftTreeOptions? tree = null, TimeSpan emulatedDraftTime = default)
    {
        var session = f.Client.GetGrain<ISessionGrain>(sessionId);
        await session.ConfigureAsync(settings ?? Greedy(maxNewTokens));
        using var edge = new EdgeSession(f.Client, draft, sessionId, "edge-" + sessionId,
            (tree ?? new DraftTreeOptions { Budget = 12, MaxDepth = 4, MaxBeams = 6, BranchWidth = 4 }) with { Proactive = proactive }, capacity: 600, transport)
            { EmulatedDraftTime = emulatedDraftTime };
        await edge.AttachAsync();
        await edge.SendAsync(text);
        int replyStart = edge.ReplyStart;
        var prompt = edge.Prompt;
        var stats = await edge.RunReplyAsync();
        var reply = edge.Committed.Skip(replyStart).ToArray();
        await edge.DetachAsync();
        return (reply, prompt, stats);
    }

    /// <summary>A greedy reply the server decodes alone (no edge), and the prompt it continued (read through a reader's attach).</summary>
    public static async Task<(int[] Prompt, int[] Reply)> ServerDecodedGreedyAsync(IClusterClient client, string id, string prompt, int maxNewTokens)
    {
        var session = client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(Greedy(maxNewTokens));
        await session.ChatAsync(prompt);
        var (tokens, _) = await StreamedReplyAsync(session);
        var committed = await CommittedTokensAsync(client, id);
        return (committed[..^tokens.Length], tokens);
    }

    /// <summary>Every token the conversation has committed, read through a reader's attach (which takes no step).</summary>
    public static async Task<int[]> CommittedTokensAsync(IClusterClient client, string id)
    {
        var session = client.GetGrain<ISessionGrain>(id);
        var observer = client.CreateObjectReference<IEdgeObserver>(new NullEdgeObserver());
        var attachment = await session.AttachEdgeAsync("reader", observer);
        await session.DetachEdgeAsync("reader");
        return attachment.Committed;
    }

    /// <summary>The tokens of the reply in progress (or the last one) and its finish reason, read from the stream.</summary>
    public static async Task<(int[] Tokens, ReplyFinish? FinishReason)> StreamedReplyAsync(ISessionGrain session)
    {
        var tokens = new List<int>();
        ReplyFinish? reason = null;
        await foreach (var chunk in session.StreamReplyAsync())
        {
            tokens.AddRange(chunk.Tokens);
            reason = chunk.FinishReason;
        }
        return (tokens.ToArray(), reason);
    }

    /// <summary>
    /// The snapshot once the reply has ended durably. An edge holds its last verdict before the step's state write
    /// completes, and a snapshot shows only durable steps, so reading right after an edge's reply can see the reply still
    /// in progress.
    /// </summary>
    public static async Task<SessionSnapshot> SnapshotAfterReplyAsync(ISessionGrain session)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        var snapshot = await session.GetAsync();
        while (snapshot.Generating && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
            snapshot = await session.GetAsync();
        }
        return snapshot;
    }
}
