using System.Text.Json;
using System.Text.Json.Nodes;
using SpecEdge.Inference.Training;

namespace SpecEdge.Tools;

/// <summary>
/// Writes texts with the ids our encoder gives them, for tools/corpus/verify-tokenizer.js to compare with Hugging Face
/// tokenizers: held-out Brown paragraphs plus a few hand-written texts (special tokens, accents, odd whitespace).
/// </summary>
public static class TokenCases
{
    public static int Write(string modelDirectory, string corpusDirectory, string outputPath, int count)
    {
        var tokenizer = ByteLevelBpeTokenizer.Load(Path.Combine(modelDirectory, "tokenizer.json"));
        var (_, heldOut) = BrownCorpus.Split(BrownCorpus.Load(corpusDirectory));
        var texts = heldOut.SelectMany(d => d.Text.Split('\n')).Take(count).ToList();
        texts.AddRange(new[]
        {
            "<|im_start|>user\nWhat did the jury say?<|im_end|>\n<|im_start|>assistant\n",
            "Café naïve façade — “quoted” 1,234.56 dollars; it's, they're, we'll, I'd.",
            "  two leading spaces,\ttab, trailing spaces   \n\nblank line above",
            "end of one document<|endoftext|>start of the next",
        });
        var cases = new JsonArray(texts.Select(t => (JsonNode)new JsonObject
        {
            ["text"] = t, ["ids"] = new JsonArray(tokenizer.Encode(t).Select(i => (JsonNode)i).ToArray()),
        }).ToArray());
        File.WriteAllText(outputPath, cases.ToJsonString(new JsonSerializerOptions { WriteIndented = false }));
        Console.WriteLine($"Wrote {texts.Count} texts with their ids to {outputPath}");
        return 0;
    }
}
