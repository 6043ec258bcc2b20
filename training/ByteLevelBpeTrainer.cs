using SpecEdge.Inference.Tokenization;
namespace SpecEdge.Inference.Training;

/// <summary>
/// Learns byte-level BPE merges from text (the classic algorithm: count adjacent token pairs inside every
/// pre-tokenised word, merge the most frequent pair, repeat) until the vocabulary, special tokens included, reaches
/// the requested size. Ties go to the pair whose ids are smallest, so a run is deterministic.
/// </summary>
public static class ByteLevelBpeTrainer
{
    public static ByteLevelBpeTokenizer Train(IEnumerable<string> texts, int vocabSize, IReadOnlyList<string> specialTokens,
        Action<string>? log = null)
    {
        int mergeCount = vocabSize - 256 - specialTokens.Count;
        if (mergeCount < 0)
            throw new ArgumentOutOfRangeException(nameof(vocabSize), $"vocabSize {vocabSize} is below 256 bytes + {specialTokens.Count} special tokens.");

        // Unique pre-tokens with their frequency, each as a sequence of token ids (initially one per byte).
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var text in texts)
            foreach (var piece in Gpt2PreTokenizer.Split(text))
                counts[piece] = counts.GetValueOrDefault(piece) + 1;
        var byteId = new int[256];
        for (int i = 0; i < 256; i++) byteId[ByteLevelAlphabet.BytesInVocabOrder[i]] = i;
        var words = counts.Keys.Select(p => System.Text.Encoding.UTF8.GetBytes(p).Select(b => byteId[b]).ToList()).ToArray();
        var freq = counts.Values.ToArray();
        log?.Invoke($"BPE: {words.Length:N0} distinct pre-tokens, learning {mergeCount:N0} merges");

        var tokens = ByteLevelAlphabet.BytesInVocabOrder.Select(b => ByteLevelAlphabet.Char(b).ToString()).ToList();
        var pairCount = new Dictionary<(int, int), long>();
        var pairWords = new Dictionary<(int, int), HashSet<int>>();
        void Count(int w, long sign)
        {
            var s = words[w];
            for (int i = 0; i + 1 < s.Count; i++)
            {
                var p = (s[i], s[i + 1]);
                pairCount[p] = pairCount.GetValueOrDefault(p) + sign * freq[w];
                if (sign > 0)
                {
                    if (!pairWords.TryGetValue(p, out var set)) pairWords[p] = set = new HashSet<int>();
                    set.Add(w);
                }
            }
        }
        for (int w = 0; w < words.Length; w++) Count(w, +1);

        var merges = new List<(string, string)>(mergeCount);
        while (merges.Count < mergeCount)
        {
            (int, int) best = default;
            long bestCount = 0;
            foreach (var (p, c) in pairCount)
                if (c > bestCount || (c == bestCount && c > 0 && p.CompareTo(best) < 0)) (best, bestCount) = (p, c);
            if (bestCount == 0) break;   // every word is a single token: nothing left to merge

            int merged = tokens.Count;
            tokens.Add(tokens[best.Item1] + tokens[best.Item2]);
            merges.Add((tokens[best.Item1], tokens[best.Item2]));
            foreach (int w in pairWords[best].ToList())
            {
                var s = words[w];
                Count(w, -1);
                for (int i = 0; i + 1 < s.Count; i++)
                    if (s[i] == best.Item1 && s[i + 1] == best.Item2) { s[i] = merged; s.RemoveAt(i + 1); }
                Count(w, +1);
            }
            pairCount.Remove(best);
            pairWords.Remove(best);
        }
        if (merges.Count < mergeCount)
            log?.Invoke($"BPE: the text supports only {merges.Count} merges; vocabulary is {256 + merges.Count + specialTokens.Count}");
        return new ByteLevelBpeTokenizer(merges, specialTokens);
    }
}
