using SpecEdge.Inference;
using SpecEdge.Inference.Sampling;
using SpecEdge.Contracts;
using SpecEdge.Inference.Tokenization;
using SpecEdge.Grains.Hosting;

namespace SpecEdge.Grains.Sessions;

/// <summary>
/// Refuses settings and messages a session must not act on, before it does any work for them. The exception message
/// is all an Orleans caller gets back, so each one names the field, the value and the limit (with its option name).
/// </summary>
internal static class SessionInputLimits
{
    /// <summary>Throws <see cref="ArgumentException"/> (or a subclass) naming the first field of <paramref name="settings"/> out of bounds.</summary>
    public static void CheckSettings(GenerationSettings? settings, SpecEdgeSiloOptions limits, int vocabSize)
    {
        if (settings is null) throw new ArgumentNullException(nameof(settings), "GenerationSettings must not be null.");

        double temperature = settings.Temperature;
        if (!double.IsFinite(temperature) || temperature < 0 || temperature > limits.MaxTemperature)
            throw new ArgumentOutOfRangeException(nameof(settings.Temperature),
                $"Temperature must be a finite number in [0, {limits.MaxTemperature}] (SpecEdge:MaxTemperature); got {temperature}.");
        if (!(settings.TopP > 0 && settings.TopP <= 1))   // also refuses NaN
            throw new ArgumentOutOfRangeException(nameof(settings.TopP), $"TopP must be in (0, 1]; got {settings.TopP}.");
        if (settings.TopK < 0)
            throw new ArgumentOutOfRangeException(nameof(settings.TopK), $"TopK must be 0 (off) or positive; got {settings.TopK}.");
        if (settings.Logprobs < -1 || settings.Logprobs > SamplingParams.MaxTopLogprobs)
            throw new ArgumentOutOfRangeException(nameof(settings.Logprobs), $"Logprobs must be -1 (none), 0 or at most {SamplingParams.MaxTopLogprobs} alternatives; got {settings.Logprobs}.");

        // min-p, penalties and biases: the verifier's own rule on the parameters it will receive (the seed does not
        // matter to the check), with messages that name the API's fields.
        Verification.VerifierBoundary.Sampling(settings with { Seed = settings.Seed ?? 0 }).Validate(vocabSize);
        // The tools too, before any turn is started or written (the template renders them when a conversation starts).
        try { ToolDefinition.Parse(settings.Tools); }
        catch (ArgumentException e) { throw e.Renamed(nameof(GenerationSettings.Tools)); }

        int maxNewTokens = limits.EffectiveMaxNewTokens;
        if (settings.MaxNewTokens < 1 || settings.MaxNewTokens > maxNewTokens)
            throw new ArgumentOutOfRangeException(nameof(settings.MaxNewTokens),
                $"MaxNewTokens must be in [1, {maxNewTokens}] (SpecEdge:MaxNewTokensLimit); got {settings.MaxNewTokens}.");

        var stops = settings.StopStrings;
        if (stops is null)
            throw new ArgumentNullException(nameof(settings.StopStrings), "StopStrings must be an array (empty for none), not null.");
        if (stops.Length > limits.MaxStopStrings)
            throw new ArgumentOutOfRangeException(nameof(settings.StopStrings),
                $"StopStrings has {stops.Length} entries; the limit is {limits.MaxStopStrings} (SpecEdge:MaxStopStrings).");
        for (int i = 0; i < stops.Length; i++)
        {
            // An empty stop string would match everywhere and end every reply at its first token.
            if (string.IsNullOrEmpty(stops[i]))
                throw new ArgumentException($"StopStrings[{i}] is {(stops[i] is null ? "null" : "empty")}; every stop string needs at least one character.", nameof(settings.StopStrings));
            if (stops[i].Length > limits.MaxStopStringChars)
                throw new ArgumentOutOfRangeException(nameof(settings.StopStrings),
                    $"StopStrings[{i}] has {stops[i].Length} characters; the limit is {limits.MaxStopStringChars} (SpecEdge:MaxStopStringChars).");
        }

        if (settings.SystemPrompt is { } system && system.Length > limits.MaxSystemPromptChars)
            throw new ArgumentOutOfRangeException(nameof(settings.SystemPrompt),
                $"SystemPrompt has {system.Length} characters; the limit is {limits.MaxSystemPromptChars} (SpecEdge:MaxSystemPromptChars).");
    }

    /// <summary>Throws <see cref="ArgumentException"/> for a missing, empty or oversized user message; counts characters, so nothing is tokenised first.</summary>
    public static void CheckMessage(string? text, SpecEdgeSiloOptions limits)
    {
        if (text is null) throw new ArgumentNullException(nameof(text), "The user message (text) must not be null.");
        if (text.Length == 0) throw new ArgumentException("The user message (text) is empty.", nameof(text));
        if (text.Length > limits.MaxMessageChars)
            throw new ArgumentOutOfRangeException(nameof(text),
                $"The user message (text) has {text.Length} characters; the limit is {limits.MaxMessageChars} (SpecEdge:MaxMessageChars).");
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for a call id longer than <see cref="ChatTurn.MaxToolCallIdChars"/>.</summary>
    public static void CheckToolCallId(string? id, string name)
    {
        if (id is { Length: > ChatTurn.MaxToolCallIdChars })
            throw new ArgumentOutOfRangeException(name, $"{name} has {id.Length} characters; the limit is {ChatTurn.MaxToolCallIdChars}.");
    }

    /// <summary>The new message's role: a user's message, or a tool's result (only where the chat format renders tools).</summary>
    public static void CheckRole(string? role, ChatFormat format)
    {
        if (role is not ("user" or "tool")) throw new ArgumentException($"A turn's message must have the role 'user' or 'tool'; got '{role}'.", "Role");
        if (role == "tool" && !format.SupportsTools)
            throw new ArgumentException($"Tool results are rendered for ChatML (Qwen) chat templates only; this model's format is {format.Kind}.", "Role");
    }

    /// <summary>
    /// Earlier turns replayed into a new conversation: each one "user" or "assistant" and within the message limit, and
    /// no more of them than the context could hold (every turn costs at least two tokens of template markup).
    /// </summary>
    public static void CheckHistory(ChatTurn[]? history, SpecEdgeSiloOptions limits)
    {
        if (history is null) throw new ArgumentNullException(nameof(history), "History must be an array (empty for none), not null.");
        if (history.Length > limits.MaxContextTokens / 2)
            throw new ArgumentOutOfRangeException(nameof(history),
                $"History has {history.Length} turns; a {limits.MaxContextTokens}-token context (SpecEdge:MaxContextTokens) cannot hold them.");
        for (int i = 0; i < history.Length; i++)
        {
            if (history[i] is not { Role: "user" or "assistant" or "tool" } turn)
                throw new ArgumentException($"History[{i}] must have the role 'user', 'assistant' or 'tool'; got '{history[i]?.Role}'.", nameof(history));
            if (turn.ToolCalls is { } calls && (turn.Role != "assistant" || calls.Length > ToolDefinition.MaxTools
                || calls.Any(c => c?.Name is not { Length: > 0 and <= 64 } || c.Arguments is null || c.Arguments.Length > limits.MaxMessageChars
                    || c.Id is not { Length: <= ChatTurn.MaxToolCallIdChars })))
                throw new ArgumentException($"History[{i}] has tool calls that are not an assistant's ({ToolDefinition.MaxTools} at most, each with an id of up to {ChatTurn.MaxToolCallIdChars} characters, a name of up to 64 characters and arguments within the message limit).", nameof(history));
            CheckToolCallId(turn.ToolCallId, $"History[{i}].ToolCallId");
            if (turn.Content is null) throw new ArgumentNullException(nameof(history), $"History[{i}] has no content.");
            if (turn.Content.Length > limits.MaxMessageChars)
                throw new ArgumentOutOfRangeException(nameof(history),
                    $"History[{i}] has {turn.Content.Length} characters; the limit is {limits.MaxMessageChars} (SpecEdge:MaxMessageChars).");
        }
    }
}
