using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using SpecEdge.Inference.Constraints;
using SpecEdge.Inference.Tests.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace SpecEdge.Inference.Tests.Constraints;

/// <summary>
/// The grammar against the JSON Schema Test Suite (draft 4, the npm package json-schema-test-suite in
/// tests/openai-client): for the keywords of our subset, each case's schema is wrapped as the one property of an object
/// root, and each case's data, written compactly, is checked. The grammar must never complete a document the suite
/// calls invalid; schemas outside the subset must be refused (by name), never half-understood; and most valid
/// documents must complete (the rest use spellings the grammar does not generate, such as 1.0 for an integer).
/// </summary>
[Trait("Kind", "unit")]
public class JsonSchemaSuiteTests(ITestOutputHelper output)
{
    private static readonly string[] Files = ["type", "properties", "required", "enum", "items", "minItems", "maxItems", "additionalProperties", "anyOf", "minimum", "maximum"];
    private static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    [Fact]
    public void TheSuitesSubset_NothingInvalidCompletes_AndMostValidDocumentsDo()
    {
        string folder = Path.Combine(Path.GetDirectoryName(ReferenceTokenizers.ReferenceFolder)!, "openai-client", "node_modules", "json-schema-test-suite", "tests", "draft4");
        Assert.True(Directory.Exists(folder), $"{folder} is missing: run infra/test.sh (it runs npm ci in tests/openai-client).");
        int groups = 0, refused = 0, cases = 0, validCompleted = 0, valid = 0;
        foreach (var file in Files)
        {
            foreach (var group in JsonNode.Parse(File.ReadAllText(Path.Combine(folder, file + ".json")))!.AsArray())
            {
                groups++;
                var wrapped = new JsonObject
                {
                    ["type"] = "object", ["properties"] = new JsonObject { ["v"] = group!["schema"]!.DeepClone() },
                    ["required"] = new JsonArray("v"), ["additionalProperties"] = false,
                };
                JsonGrammar grammar;
                try { grammar = JsonGrammar.FromSchema(wrapped.ToJsonString()); }
                catch (ArgumentException e)
                {
                    refused++;
                    Assert.Contains("schema", e.Message);
                    output.WriteLine($"refused {file}: {group["description"]}: {e.Message}");
                    continue;
                }
                foreach (var test in group["tests"]!.AsArray())
                {
                    cases++;
                    var document = new JsonObject { ["v"] = test!["data"]?.DeepClone() };
                    bool completes = grammar.Start().Advance(JsonSerializer.SerializeToUtf8Bytes(document, Compact)) is { IsComplete: true };
                    bool isValid = (bool)test["valid"]!;
                    Assert.False(completes && !isValid, $"{file}: {group["description"]}: {test["description"]}: the grammar completes {document.ToJsonString()}, which the suite calls invalid.");
                    if (isValid) valid++;
                    if (isValid && completes) validCompleted++;
                    if (isValid && !completes) output.WriteLine($"not generated ({file}: {group["description"]}: {test["description"]}): {document.ToJsonString()}");
                }
            }
        }
        output.WriteLine($"{groups} schemas ({refused} refused), {cases} cases; {validCompleted} of {valid} valid documents complete");
        Assert.True(cases >= 60, $"only {cases} cases ran");
        Assert.True(validCompleted >= 0.6 * valid, $"only {validCompleted} of {valid} valid documents complete");
    }
}
