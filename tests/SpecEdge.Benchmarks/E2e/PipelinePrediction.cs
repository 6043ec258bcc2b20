using System.Globalization;
using SpecEdge.Benchmarks.Capacity;
using SpecEdge.Inference;

namespace SpecEdge.Benchmarks.E2e;

/// <summary>
/// The capacity simulator's prediction of the e2e benchmark's pipeline cells (issue 13, item 4 on the end-to-end
/// benchmark), calibrated only on the run's ordinary edge-assisted cell(s): the verifier's forward-cost line fitted on
/// their forwards, their tokens per step, their wire time (upload + download as the edges saw it) and their session
/// handling + display per step. The pipeline cells have 2-4x the edges, an emulated draft time and both batching
/// policies, so nothing of what is predicted was seen by the calibration.
/// </summary>
public static class PipelinePrediction
{
    /// <summary>Measured (mean over the policy's rounds) and predicted figures; A: the calibration cell's cost line, B: the line refitted on the policy's own forwards.</summary>
    public sealed record Row(string Policy, double MeasuredTokensPerSecond, double PredictedTokensPerSecond, double MeasuredIdle, double PredictedIdle,
        double MeasuredMeanBatch, double PredictedMeanBatch, double MeasuredItlP50Ms, double PredictedItlP50Ms,
        double PredictedTokensPerSecondB, double PredictedIdleB, double PredictedItlP50MsB);

    public static List<Row> Predict(IReadOnlyList<E2eCell> calibration, IReadOnlyList<(int Batch, double Ms)> forwards, IReadOnlyList<E2eCell> pipeline,
        double draftMs, int maxBatch, int replyTokens, int seeds = 5)
    {
        var rows = new List<Row>();
        var steps = calibration.SelectMany(c => c.StepTokens).Where(t => t >= 1).ToList();
        var wire = calibration.SelectMany(c => c.WireMs).Where(w => w >= 0).ToList();
        var handling = calibration.SelectMany(c => c.HandlingMs).Where(h => h >= 0).ToList();
        if (steps.Count == 0 || wire.Count == 0 || forwards.Count == 0 || pipeline.Count == 0) return rows;
        var cost = Line(forwards, out double intercept, out double slope);
        double handlingMs = Percentile.Of(handling, 50);
        var acceptance = AcceptanceModel.Measured(steps, "calibration cell steps");
        var roundTrip = DurationDistribution.Empirical(wire.Select(w => w / 1000), "calibration cell wire");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Simulator calibrated on {calibration.Count} edge cell(s): forward {intercept:F1} ms + {slope:F1} ms per item, {acceptance.Description}, " +
            $"{roundTrip.Description}, handling + display p50 {handlingMs:F2} ms; emulated draft {draftMs} ms"));
        foreach (var group in pipeline.GroupBy(c => c.Mode))
        {
            var policy = group.Key == "pipeline-aware" ? BatchPolicy.PipelineAware : BatchPolicy.WorkConserving;
            int sessions = group.First().Sessions;
            List<SimulationResult> Simulate(IVerifyCost verify) => Enumerable.Range(1, seeds).Select(seed => Simulator.Run(new SimulationConfig
            {
                Placement = DraftPlacement.Edge, Sessions = sessions, Verify = verify, Acceptance = acceptance, MaxBatch = maxBatch, Policy = policy,
                EdgeDraft = new[] { DurationDistribution.Constant((draftMs + handlingMs) / 1000) }, RoundTrip = roundTrip,
                PromptTokens = 32, ReplyTokens = replyTokens, RepliesPerSession = 1, IncludePrefill = true, Seed = seed,
            })).ToList();
            var a = Simulate(cost);
            var own = group.SelectMany(c => c.Forwards).ToList();
            var b = Simulate(Line(own, out double ownIntercept, out double ownSlope));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {group.Key}: B line {ownIntercept:F1} ms + {ownSlope:F1} ms per item from {own.Count} forwards"));
            rows.Add(new Row(group.Key, group.Average(c => c.AggregateTokensPerSecond), a.Average(r => r.TokensPerSecond),
                group.Average(c => c.IdleFraction), a.Average(r => r.IdleFraction), group.Average(c => c.MeanBatch), a.Average(r => r.MeanBatch),
                group.Average(c => c.ItlP50Ms), a.Average(r => r.ItlP50Ms), b.Average(r => r.TokensPerSecond), b.Average(r => r.IdleFraction), b.Average(r => r.ItlP50Ms)));
        }
        Console.WriteLine("A: cost line of the calibration cell; B: refitted on the policy's own forwards (the schedule alone, without the CPU the extra edge processes take)");
        Console.WriteLine("| batching | aggregate tokens/s measured | A | error A | B | error B | idle measured | A | B | mean batch measured | A | ITL p50 ms measured | A | error A | B | error B |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Policy} | {r.MeasuredTokensPerSecond:F1} | {r.PredictedTokensPerSecond:F1} | {Error(r.PredictedTokensPerSecond, r.MeasuredTokensPerSecond)} | " +
                $"{r.PredictedTokensPerSecondB:F1} | {Error(r.PredictedTokensPerSecondB, r.MeasuredTokensPerSecond)} | " +
                $"{r.MeasuredIdle:P1} | {r.PredictedIdle:P1} | {r.PredictedIdleB:P1} | {r.MeasuredMeanBatch:F2} | {r.PredictedMeanBatch:F2} | " +
                $"{r.MeasuredItlP50Ms:F1} | {r.PredictedItlP50Ms:F1} | {Error(r.PredictedItlP50Ms, r.MeasuredItlP50Ms)} | {r.PredictedItlP50MsB:F1} | {Error(r.PredictedItlP50MsB, r.MeasuredItlP50Ms)} |"));
        return rows;
    }

    /// <summary>
    /// Forward ms = intercept + slope x items over every forward given (a prefill counts as one item), by least squares;
    /// a line that comes out sloping down (noise, one batch size) is taken as flat at the mean.
    /// </summary>
    private static LinearVerifyCost Line(IReadOnlyList<(int Batch, double Ms)> forwards, out double intercept, out double slope)
    {
        bool sizes = forwards.Select(f => f.Batch).Distinct().Count() > 1;
        var fit = sizes ? LeastSquares.Solve(forwards.Select(f => new[] { 1.0, f.Batch }).ToList(), forwards.Select(f => f.Ms).ToList()) : new[] { 0.0, 0.0 };
        (intercept, slope) = sizes && fit[1] > 0 ? (Math.Max(0, fit[0]), fit[1]) : (forwards.Average(f => f.Ms), 0);
        return new LinearVerifyCost(intercept / 1000, slope / 1000, 0, 0);
    }

    private static string Error(double predicted, double measured) => string.Create(CultureInfo.InvariantCulture, $"{(predicted / measured - 1) * 100:+0.0;-0.0} %");
}
