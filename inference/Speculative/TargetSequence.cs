using SpecEdge.Inference.Constraints;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Sampling;

namespace SpecEdge.Inference.Speculative;

/// <summary>
/// The verify side's state of one sequence: committed tokens, the target KV cache, sampling settings and the step
/// counter. Sampling needs no RNG state: draws are keyed by (seed, position), see <see cref="SampleRng"/>.
/// Invariant between steps: the cache holds every committed token but the last, which is the root of the next tree
/// (or the next input of plain decoding) and has no KV yet.
/// </summary>
public sealed class TargetSequence : IDisposable
{
    private readonly List<int> _committed;

    public KvCache Cache { get; }
    public IReadOnlyList<int> Committed => _committed;
    /// <summary>Committed tokens before the current reply (the prompt of this turn, including earlier turns).</summary>
    public int PromptLength { get; private set; }
    public IReadOnlyList<int> Generated => _committed.Skip(PromptLength).ToList();
    public int GeneratedCount => _committed.Count - PromptLength;
    public SamplingParams Sampling { get; private set; }
    public StopCriteria Stop { get; private set; }
    public long Step { get; private set; }
    public FinishReason Finish { get; private set; }
    public bool Finished => Finish != FinishReason.None;
    /// <summary>
    /// Set when a commit failed half-way: the cache and the tokens may disagree, so the owner must drop this sequence
    /// and rebuild it from durable state instead of stepping it again.
    /// </summary>
    public bool Faulted { get; internal set; }
    /// <summary>
    /// Who may share this sequence's prefix blocks (<see cref="Prefixes.PrefixCache"/>); null keeps it out of the prefix
    /// cache altogether.
    /// </summary>
    public Prefixes.PrefixScope? PrefixScope { get; init; }
    /// <summary>Largest tree (nodes besides the root) this sequence accepts.</summary>
    public int MaxTreeNodes { get; init; } = 256;

    public TargetSequence(KvCache cache, IReadOnlyList<int> committed, int promptLength, SamplingParams sampling, StopCriteria stop, long step = 0)
    {
        if (committed.Count == 0) throw new ArgumentException("A sequence needs at least one token (e.g. BOS or the prompt).");
        sampling.Validate();
        Cache = cache;
        _committed = committed.ToList();
        PromptLength = promptLength;
        Sampling = sampling;
        Stop = stop;
        Step = step;
    }

    /// <summary>
    /// Checks a tree from the draft side against this sequence (<see cref="TreeRules"/>, then <see cref="CheckFits"/>),
    /// naming the first problem. Nothing is changed.
    /// </summary>
    public void Validate(DraftMessage tree, int vocabSize)
    {
        if (Finished) throw new InvalidDraftException($"The sequence has finished ({Finish}); no more trees are accepted.");
        if (TreeRules.Check(tree.Step, tree.CommittedLength, tree.Tokens, tree.Parents, tree.Confidence, Step, _committed, MaxTreeNodes, vocabSize, "the sequence") is { } broken)
            throw new InvalidDraftException(broken);
        CheckFits(tree);
    }

    /// <summary>
    /// What this sequence alone can tell of a tree that passed <see cref="TreeRules"/> where it entered (the session):
    /// whether the sequence still takes trees and whether the tree fits its KV cache.
    /// </summary>
    public void CheckFits(DraftMessage tree)
    {
        if (Finished) throw new InvalidDraftException($"The sequence has finished ({Finish}); no more trees are accepted.");
        if (Cache.Length + tree.Tokens.Length > Cache.Capacity)
            throw new InvalidDraftException($"Tree of {tree.Tokens.Length} tokens does not fit the KV cache ({Cache.Length} of {Cache.Capacity} used).");
    }

    /// <summary>
    /// Starts a new reply in a multi-turn conversation: appends <paramref name="prompt"/> (e.g. the formatted user
    /// message and the assistant header) and resets the stop state. The cache catches up at the next prefill.
    /// </summary>
    public void StartTurn(IReadOnlyList<int> prompt, StopCriteria stop, SamplingParams? sampling = null)
    {
        if (sampling is not null && sampling != Sampling)
        {
            sampling.Validate();
            Sampling = sampling;
        }
        _committed.AddRange(prompt);
        PromptLength = _committed.Count;
        Stop = stop;
        Finish = FinishReason.None;
    }

    /// <summary>
    /// How many of <paramref name="tokens"/> the stop criteria keep, and why generation ends; changes nothing. A sequence
    /// never commits more tokens than its cache can hold: reaching the capacity ends the reply
    /// (<see cref="FinishReason.ContextFull"/>), because the next step could not fit its input.
    /// </summary>
    internal (int Keep, FinishReason Reason) Cut(IReadOnlyList<int> tokens) => Stop.Cut(Generated, tokens, contextRoom: Cache.Capacity - _committed.Count);

    /// <summary>
    /// Commits the first <paramref name="keep"/> of a step's new <paramref name="tokens"/>, as decided by <see cref="Cut"/>;
    /// returns what was kept. Keeps the cache invariant: it is truncated when a stop cut into tokens whose KV it holds.
    /// </summary>
    internal int[] Commit(IReadOnlyList<int> tokens, int keep, FinishReason reason)
    {
        var kept = tokens.Take(keep).ToArray();
        _committed.AddRange(kept);
        Finish = reason;
        Step++;
        if (Cache.PrefixLength > _committed.Count - 1) Cache.Truncate(_committed.Count - 1);
        return kept;
    }

    // The grammar state after the reply's committed tokens, advanced as tokens commit (recomputed after a new turn,
    // new settings or a rollback).
    private (JsonGrammar Grammar, int ReplyStart, int Count, GrammarState? State)? _grammarCursor;

    /// <summary>
    /// Where the committed reply stands in <see cref="SamplingParams.Grammar"/>; null when it left the grammar, which a
    /// reply decoded under it never does.
    /// </summary>
    internal GrammarState? GrammarState(TokenVocabulary vocabulary)
    {
        var grammar = Sampling.Grammar ?? throw new InvalidOperationException("The sequence has no grammar.");
        if (_grammarCursor is not { } c || c.Grammar != grammar || c.ReplyStart != PromptLength || c.Count > _committed.Count)
            c = (grammar, PromptLength, PromptLength, grammar.Start());
        var state = c.State;
        for (int i = c.Count; i < _committed.Count && state is not null; i++)
            state = vocabulary.Bytes(_committed[i]) is { } bytes ? state.Advance(bytes) : null;
        _grammarCursor = (grammar, PromptLength, _committed.Count, state);
        return state;
    }

    public void Dispose() => Cache.Dispose();
}

/// <summary>A draft tree that does not fit the sequence it was sent for; the sequence is left untouched.</summary>
public sealed class InvalidDraftException(string message) : ArgumentException(message);
