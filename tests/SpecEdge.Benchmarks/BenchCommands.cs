namespace SpecEdge.Benchmarks;

/// <summary>
/// The options each benchmark command reads. An option a command does not read is refused before anything runs, so a
/// misspelt flag fails at once instead of a long run quietly taking the default. A new option goes here and into the
/// usage text of Program.cs.
/// </summary>
public static class BenchCommands
{
    private static readonly Dictionary<string, string> Keys = new()
    {
        ["forward"] = "batch out prefix repeats threads tree",
        ["cluster"] = "clients draft max-new-tokens out steps target threads",
        ["spec"] = "adaptive-budget adaptive-depth batches budget corpus draft drafts dtype format goodput-budget goodput-depth knee max-depth "
            + "max-new-tokens nodes-per-level out proactive prompt-set prompt-tokens prompts repeats row-multiple rtt-ms target threads trees variants verifier-token-knee",
        ["verify-cost"] = "batches draft draft-between out prefix repeats row-multiples target threads",
        ["gemm-rows"] = "max-rows out repeats target threads",
        ["security"] = "calls draft out steps target threads",
        ["storage"] = "conversations out prompt steps tokens-per-step",
        ["openai"] = "follow-ups history-words out requests stream-tokens streams target threads",
        ["durability"] = "draft max-new-tokens out rounds target threads",
        ["e2e"] = "draft edge-processes max-batch max-new-tokens modes out pipeline pipeline-draft-ms pipeline-draft-replay pipeline-edge-nice "
            + "pipeline-max-new-tokens pipeline-rounds pipeline-rtt-ms pipeline-sessions pipeline-warmup-rounds replies rtt-ms sessions slow-edge-ms target",
        ["capacity"] = "alpha batches clients cluster cluster-replies draft forward-rounds itl-target-ms launch-us-per-layer max-new-tokens out paper-rtt-ms "
            + "plot proactive-hit-rate projection-max-batch projection-prompt projection-reply prompts repeats rtt-ms seed sessions target threads",
        ["fairness"] = "flood flood-tokens max-batch out quiet-tokens replies stretches target threads wide-target",
        ["json-output"] = "batches budget draft llama2 llama3 max-depth max-new-tokens out parts prompts qwen3 repeats target threads",
        ["prefix-cache"] = "capacity out parts prefix prompt repeats reply sequences threads",
        // The sim part (EarlyExitSimulation) reads the rest.
        ["early-exit"] = "batches corpus draft max-new-tokens out parts prefix prompts repeats shortlist target threads tree "
            + "alpha bets-stop-at-verdict early-hit-rate early-hit-rate-with-proactive early-hit-rates launch-us-per-layer proactive-hit-rate prompt replies reply rtt-ms seed sim-sessions split-at split-overhead",
        ["pipeline-sim"] = "alpha cpu-cost jitter max-batch out prompt-tokens replies reply-tokens rtt-ms seeds sessions turnaround-ratios",
        ["server-draft"] = "draft out prompt repeats sequences threads",
        ["goodput-sim"] = "alpha decode-while-edge-drafts hand-back-max-ms hand-back-steps itl-target-ms launch-us-per-layer max-batch out plot proactive-hit-rate prompt replies reply reply-spread rtt-ms seed sessions",
    };

    /// <summary>Throws <see cref="ArgumentException"/> naming every option <paramref name="command"/> does not read (nothing for an unknown command: it prints the usage).</summary>
    public static void CheckOptions(string command, BenchOptions options)
    {
        if (!Keys.TryGetValue(command, out var keys)) return;
        options.CheckKnown(keys.Split(' ', StringSplitOptions.RemoveEmptyEntries), $"'{command}'");
    }
}
