namespace SpecEdge.EdgeLoad;

/// <summary>
/// What a load of many edges does (section "Edge", beside the edge host's own <see cref="EdgeHost.EdgeHostOptions"/>):
/// the soak's honest sessions (<see cref="Soak"/>) or the e2e benchmark's conversations (<see cref="Bench"/>).
/// </summary>
public sealed class EdgeLoadOptions
{
    /// <summary>Soak load mode: run this many honest edge sessions in this process .</summary>
    public int Soak { get; set; }
    /// <summary>
    /// Conversation id prefix of the soak sessions (stable, so a restarted process resumes them): "tenant/name" (the
    /// tenant of this process's service credential), or a bare name, which is taken to be in tenant "soak"
    /// (<see cref="EdgeHostOptions.PrefixedConversationId"/>).
    /// </summary>
    public string SoakPrefix { get; set; } = "soak";
    /// <summary>End-to-end benchmark mode: this many conversations in this process, one JSON line per reply (0 = off).</summary>
    public int Bench { get; set; }
    /// <summary>Bench mode: "edge" (draft here, per-step breakdown) or "server" (no edge: stream the server-decoded reply).</summary>
    public string BenchMode { get; set; } = "edge";
    /// <summary>
    /// Bench mode: conversation id prefix, "tenant/name" (the tenant of this process's service credential), or a bare
    /// name, which is taken to be in tenant "bench" (<see cref="EdgeHostOptions.PrefixedConversationId"/>).
    /// </summary>
    public string BenchPrefix { get; set; } = "bench";
    /// <summary>Bench mode: replies per conversation.</summary>
    public int BenchReplies { get; set; } = 1;
    /// <summary>Bench mode: wait until this file exists before the first message (so that all processes start together).</summary>
    public string? BenchGoFile { get; set; }
    /// <summary>
    /// Bench mode: a directory of recorded draft trees, one file per prompt. A reply whose prompt has no file drafts for
    /// real and records its trees there; a reply whose prompt has one replays them (greedy decoding repeats itself, so the
    /// trees are exactly those the draft model built) and spends no CPU on drafting: with <see cref="EdgeHostOptions.DraftDelayMs"/>, many
    /// emulated edges on a few cores then cost the verifier's cores nothing but their messages. null = always draft.
    /// </summary>
    public string? BenchDraftReplay { get; set; }

    /// <summary>The command-line switches of a load, beside the edge host's own.</summary>
    public static readonly Dictionary<string, string> Switches = new(EdgeHost.EdgeHostOptions.Switches)
    {
        ["--soak"] = "Edge:Soak", ["--soak-prefix"] = "Edge:SoakPrefix",
        ["--bench"] = "Edge:Bench", ["--bench-mode"] = "Edge:BenchMode", ["--bench-prefix"] = "Edge:BenchPrefix", ["--bench-replies"] = "Edge:BenchReplies",
        ["--bench-go-file"] = "Edge:BenchGoFile", ["--bench-draft-replay"] = "Edge:BenchDraftReplay",
    };
}
