namespace SpecEdge.Inference.Speculative;

/// <summary>
/// What a forward of some work costs in the terms of <see cref="ForwardCostModel"/>: sequences with input, input tokens,
/// the longest input (a batched forward pads every sequence to it), and whether any input has more than one token (then
/// attention needs a mask; a forward of single tokens does not).
/// </summary>
public readonly record struct ForwardShape(int Sequences, int Tokens, bool Masked, int Longest = 1)
{
    /// <summary>Input rows once every sequence is padded to the longest.</summary>
    public int Padded => Sequences * Longest;

    public static ForwardShape Of(IEnumerable<TargetWork> work)
    {
        int sequences = 0, tokens = 0, longest = 0;
        bool masked = false;
        foreach (var w in work)
        {
            int n = w switch
            {
                VerifyWork v => v.Tree.Tokens.Length,
                DecodeWork => 1,
                PrefillWork p => Math.Max(0, p.Sequence.Committed.Count - 1 - p.Sequence.Cache.PrefixLength),
                _ => 0,
            };
            if (n == 0) continue;
            sequences++;
            tokens += n;
            longest = Math.Max(longest, n);
            masked |= n > 1;
        }
        return new ForwardShape(sequences, tokens, masked, Math.Max(1, longest));
    }
}
