using SpecEdge.Contracts;
using SpecEdge.Inference;
using SpecEdge.Inference.Constraints;
using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;
using SpecEdge.Inference.Tokenization;

namespace SpecEdge.Grains.Verification;

/// <summary>
/// The conversions where the verifier meets the inference library: the sampling parameters a session's settings ask
/// for, and a device verdict as the session receives it (with its finish reason and the verifier's part of the timing).
/// </summary>
public static class VerifierBoundary
{
    /// <summary>
    /// The verdict as the session receives it: the device's own record, with the finish reason in the contracts' terms
    /// and the load it ran under; the timing carries the verifier's part (the session adds its own).
    /// </summary>
    public static StepVerdict Outcome(string sessionId, TargetSequence sequence, VerifierScheduler.Executed e) =>
        new(sessionId, e.Verdict, e.Verdict.Finished ? ToReplyFinish(sequence.Finish) : null, e.ForwardMs,
            e.BatchSize, e.QueueLength, new StepTiming(0, (int)(e.QueueMs * 1000), (int)(e.ForwardMs * 1000), 0, 0), e.VerifiedNodes) { ServerPays = e.ServerPays };

    public static ReplyFinish ToReplyFinish(FinishReason reason) => reason switch
    {
        FinishReason.EndOfSequence => ReplyFinish.EndOfSequence,
        FinishReason.MaxTokens => ReplyFinish.MaxTokens,
        FinishReason.StopString => ReplyFinish.StopString,
        FinishReason.ContextFull => ReplyFinish.ContextFull,
        _ => throw new InvalidOperationException($"A finished sequence reported finish reason {reason}."),
    };

    /// <summary>The session resolves its seed before any work reaches a verifier; a missing one is a bug, not a default.</summary>
    /// <param name="toolCalls">How the model writes function calls (its chat format's); Qwen's when not given.</param>
    public static SamplingParams Sampling(GenerationSettings s, ToolCallSyntax? toolCalls = null) => new(s.Temperature, s.TopK, s.TopP,
        s.Seed ?? throw new InvalidOperationException("Generation settings reached the verifier without a resolved seed.")) {
            Logprobs = s.Logprobs, MinP = s.MinP, PresencePenalty = s.PresencePenalty, FrequencyPenalty = s.FrequencyPenalty,
            RepetitionPenalty = s.RepetitionPenalty, LogitBias = s.LogitBias is { Count: > 0 } bias ? bias : null,
            Grammar = Grammar(s, toolCalls),
        };

    /// <summary>The grammar a reply must follow (compiled once per schema text); refusals name the setting.</summary>
    public static JsonGrammar? Grammar(GenerationSettings s, ToolCallSyntax? toolCalls = null)
    {
        try
        {
            return ReplyGrammar.Of((int)s.Format, s.JsonSchema, s.ToolChoice, s.ToolName, s.Tools, s.ParallelToolCalls, toolCalls);
        }
        catch (ArgumentException e)
        {
            throw e.Renamed(e.ParamName == ReplyGrammar.ToolsParameter ? nameof(GenerationSettings.Tools) : nameof(GenerationSettings.Format));
        }
    }
}
