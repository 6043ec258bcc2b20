namespace SpecEdge.Inference.Constraints;

/// <summary>
/// Where a constrained reply stands in its <see cref="JsonGrammar"/>: an immutable stack of frames (one per value in
/// progress, the document at the bottom). <see cref="Advance(byte)"/> returns the state after one more byte, or null
/// when the grammar does not allow it; the state itself never changes, so a tree of drafts shares the states of their
/// common prefixes. States compare by value, which lets token masks be cached per state (<see cref="TokenMasker"/>).
/// </summary>
public sealed class GrammarState : IEquatable<GrammarState>
{
    private readonly int _hash;

    internal Frame Top { get; }
    internal GrammarState? Below { get; }
    /// <summary>Frames on the stack, the document included.</summary>
    public int Depth { get; }

    internal GrammarState(Frame top, GrammarState? below)
    {
        Top = top;
        Below = below;
        Depth = (below?.Depth ?? 0) + 1;
        _hash = HashCode.Combine(top, below?._hash ?? 0);
    }

    public static GrammarState Start(JsonGrammar grammar) => new(DocumentFrame.Start(grammar), null);

    /// <summary>Whether the root value is complete: the reply may (and must) end here.</summary>
    public bool IsComplete => Below is null && Top is DocumentFrame { Complete: true };

    /// <summary>Complete, yet another value may follow (parallel tool calls): the reply may end here or go on.</summary>
    public bool MayContinue => Below is null && Top is DocumentFrame { Complete: true, MayContinue: true };

    /// <summary>
    /// The lexer state when the innermost value is a string (a <see cref="StringLexer"/> state), else -1. Inside a string
    /// most tokens are allowed whatever lies below, which the masker answers from a per-vocabulary table.
    /// </summary>
    public int StringLexerState => Top is StringFrame s ? s.Lexer : -1;

    public GrammarState? Advance(byte b)
    {
        var state = this;
        while (true)
        {
            var step = state.Top.Feed(b, state.Depth);
            switch (step.Kind)
            {
                case StepKind.Stay:
                    return new GrammarState(step.Next!, state.Below);
                case StepKind.Done:
                    return state.Below;
                case StepKind.PassUp:
                    state = state.Below;
                    if (state is null) return null;
                    continue;
                case StepKind.Open:
                    var replaced = new GrammarState(step.Next!, state.Below);
                    return step.Child is null ? replaced : new GrammarState(step.Child, replaced);
                default:
                    return null;
            }
        }
    }

    /// <summary>The state after all of <paramref name="bytes"/>, or null if the grammar refuses one of them.</summary>
    public GrammarState? Advance(ReadOnlySpan<byte> bytes)
    {
        GrammarState? state = this;
        foreach (byte b in bytes)
        {
            state = state.Advance(b);
            if (state is null) return null;
        }
        return state;
    }

    public bool Equals(GrammarState? other)
    {
        var a = this;
        var b = other;
        while (true)
        {
            if (ReferenceEquals(a, b)) return true;
            if (a is null || b is null || a._hash != b._hash || a.Depth != b.Depth || !a.Top.Equals(b.Top)) return false;
            a = a.Below;
            b = b.Below;
        }
    }

    public override bool Equals(object? obj) => obj is GrammarState s && Equals(s);
    public override int GetHashCode() => _hash;
}
