using System.Text.Json;
using SpecEdge.Contracts;
using SpecEdge.Inference;
using SpecEdge.Inference.Constraints;
using SpecEdge.Inference.Tokenization;

namespace SpecEdge.OpenAi;

/// <summary>
/// Turns a request into a <see cref="ReplyJob"/> or refuses it with a 400 naming the parameter. Only the shape and
/// OpenAI's own ranges are checked here; the session's limits (message size, stop strings, max tokens) are the silo's,
/// and its refusals are mapped back to parameter names by the backend.
/// </summary>
public static class RequestValidator
{
    /// <summary>
    /// Fields this server knows but cannot honour: a value that asks for something is a 400 even with lenient
    /// parameters, because ignoring it would change what the caller gets (probabilities, tool calls, JSON,
    /// penalised or biased sampling) without telling it.
    /// </summary>
    private static readonly HashSet<string> Unhonoured = new(StringComparer.Ordinal)
    {
        "functions", "function_call", "best_of", "echo", "suffix", "guided_json",
    };

    public static ReplyJob Chat(ChatCompletionRequest? r, string? sessionHeader, IReadOnlyList<string> models, OpenAiOptions options)
    {
        if (r is null) throw OpenAiException.BadRequest("body", "The request body must be a JSON object.");
        var ignored = new List<string>();
        CheckExtras(r.Other, "", options, ignored);
        string model = Model(r.Model, models);
        int choices = Choices(r.N, options);
        if (r.Messages is not { Count: > 0 } messages) throw OpenAiException.BadRequest("messages", "'messages' must be a non-empty array.");

        string? system = null;
        var turns = new List<ChatTurn>();
        for (int i = 0; i < messages.Count; i++)
        {
            string at = $"messages[{i}]";
            var m = messages[i] ?? throw OpenAiException.BadRequest(at, $"'{at}' must be an object.");
            CheckExtras(m.Other, at + ".", options, ignored);
            // An assistant message that calls tools may have no text.
            string content = m.Role == "assistant" && m.ToolCalls is { ValueKind: JsonValueKind.Array } && m.Content is null or { ValueKind: JsonValueKind.Null }
                ? "" : Content(m.Content, at + ".content");
            switch (m.Role)
            {
                case "system" or "developer" when i == 0:
                    system = content;
                    break;
                case "system" or "developer":
                    throw OpenAiException.BadRequest(at + ".role", $"A {m.Role} message is only supported as the first message; '{at}' is not.");
                case "user" or "tool":
                    if (m.ToolCallId is { Length: > ChatTurn.MaxToolCallIdChars })
                        throw OpenAiException.BadRequest(at + ".tool_call_id", $"'{at}.tool_call_id' is longer than {ChatTurn.MaxToolCallIdChars} characters.");
                    turns.Add(new ChatTurn(m.Role, content) { ToolCallId = m.Role == "tool" ? m.ToolCallId : null });
                    break;
                case "assistant":
                    turns.Add(new ChatTurn(m.Role, content) { ToolCalls = ToolCalls(m.ToolCalls, at + ".tool_calls") });
                    break;
                case null:
                    throw OpenAiException.BadRequest(at + ".role", $"'{at}.role' is required.");
                default:
                    throw OpenAiException.BadRequest(at + ".role", $"'{at}.role' is '{m.Role}'; supported roles are system, developer, user, assistant and tool.");
            }
        }
        if (turns.Count == 0 || turns[^1].Role is not ("user" or "tool"))
            throw OpenAiException.BadRequest("messages", "The last message must have the role 'user' (or 'tool', a function's result).");

        string? session = Session(r.Session ?? sessionHeader);
        if (session is not null && choices > 1)
            throw OpenAiException.BadRequest("n", "A conversation named explicitly continues one way only: 'n' must be 1 with a session.");
        if (session is not null && turns.Count != 1)
            throw OpenAiException.BadRequest("messages", "With a session named explicitly, 'messages' holds only the new user message (and optionally a system message for a new session); the session holds the rest.");

        int maxTokens = MaxTokens(r.MaxCompletionTokens, "max_completion_tokens") ?? MaxTokens(r.MaxTokens, "max_tokens") ?? options.DefaultMaxTokens;
        var settings = Penalised(Settings(r.Temperature, r.TopP, r.TopK, r.MinP, r.Seed, r.Stop, maxTokens), r.PresencePenalty, r.FrequencyPenalty, r.RepetitionPenalty, r.LogitBias) with
        {
            SystemPrompt = system, UseChatTemplate = true, Logprobs = LogprobCount(r.Logprobs, r.TopLogprobs),
        };
        settings = CheckShapes(WithTools(Formatted(settings, r.ResponseFormat), r.Tools, r.ToolChoice) with { ParallelToolCalls = r.ParallelToolCalls ?? true });
        if (session is not null && (settings.Tools is { Length: > 0 } || turns[^1].Role == "tool"))
            throw OpenAiException.BadRequest("session", "Tools and tool results go in a conversation sent whole (no session named): the template renders the tools when a conversation starts.");
        var (stream, usage) = Streaming(r.Stream, r.StreamOptions);
        return new ReplyJob(model, settings, turns, null, session, stream, usage, r.User) { IgnoredFields = ignored, Choices = choices };
    }

    public static ReplyJob Completion(CompletionRequest? r, IReadOnlyList<string> models, OpenAiOptions options)
    {
        if (r is null) throw OpenAiException.BadRequest("body", "The request body must be a JSON object.");
        var ignored = new List<string>();
        CheckExtras(r.Other, "", options, ignored);
        string model = Model(r.Model, models);
        int choices = Choices(r.N, options);
        string prompt = r.Prompt switch
        {
            { ValueKind: JsonValueKind.String } s => s.GetString()!,
            { ValueKind: JsonValueKind.Array } a when a.GetArrayLength() == 1 && a[0].ValueKind == JsonValueKind.String => a[0].GetString()!,
            null => throw OpenAiException.BadRequest("prompt", "'prompt' is required."),
            _ => throw OpenAiException.BadRequest("prompt", "'prompt' must be a string (or an array of one string; token arrays and batches are not supported)."),
        };
        if (prompt.Length == 0) throw OpenAiException.BadRequest("prompt", "'prompt' is empty.");
        int maxTokens = MaxTokens(r.MaxCompletionTokens, "max_completion_tokens") ?? MaxTokens(r.MaxTokens, "max_tokens") ?? options.DefaultMaxTokens;
        var settings = Penalised(Settings(r.Temperature, r.TopP, r.TopK, r.MinP, r.Seed, r.Stop, maxTokens), r.PresencePenalty, r.FrequencyPenalty, r.RepetitionPenalty, r.LogitBias) with
        {
            UseChatTemplate = false, Logprobs = r.Logprobs is int k ? TopLogprobs(k, "logprobs") : -1,
        };
        // Not in OpenAI's completions API; accepted as vLLM does.
        settings = CheckShapes(Formatted(settings, r.ResponseFormat));
        var (stream, usage) = Streaming(r.Stream, r.StreamOptions);
        return new ReplyJob(model, settings, Array.Empty<ChatTurn>(), prompt, null, stream, usage, r.User) { IgnoredFields = ignored, Choices = choices };
    }

    /// <summary>The model named must be one the backend serves (404 model_not_found otherwise, as OpenAI answers).</summary>
    public static string Model(string? model, IReadOnlyList<string> models)
    {
        if (string.IsNullOrEmpty(model)) throw OpenAiException.BadRequest("model", "'model' is required.");
        if (!models.Contains(model, StringComparer.Ordinal))
            throw new OpenAiException(404, $"The model '{model}' does not exist; this server serves {string.Join(", ", models)}.", "model", code: "model_not_found");
        return model;
    }

    private static GenerationSettings Settings(double? temperature, double? topP, int? topK, double? minP, long? seed, JsonElement? stop, int maxTokens)
    {
        double m = minP ?? 0;
        if (!(m >= 0 && m <= 1)) throw OpenAiException.BadRequest("min_p", $"'min_p' must be in [0, 1]; got {m}.");
        int k = topK ?? 0;
        if (k < 0) throw OpenAiException.BadRequest("top_k", $"'top_k' must be 0 (off) or more; got {k}.");
        // OpenAI's ranges and defaults (temperature 1, top_p 1).
        double t = temperature ?? 1.0;
        if (!(t >= 0 && t <= 2)) throw OpenAiException.BadRequest("temperature", $"'temperature' must be in [0, 2]; got {t}.");
        double p = topP ?? 1.0;
        if (!(p > 0 && p <= 1)) throw OpenAiException.BadRequest("top_p", $"'top_p' must be in (0, 1]; got {p}.");
        return new GenerationSettings
        {
            Temperature = t, TopP = p, TopK = k, MinP = m, MaxNewTokens = maxTokens, StopStrings = StopStrings(stop),
            // Any 64-bit integer is a seed; a negative one keeps its bits.
            Seed = seed is long s ? unchecked((ulong)s) : null,
        };
    }

    /// <summary>
    /// Penalties and logit_bias in OpenAI's ranges (repetition_penalty as vLLM's extension). Token ids are checked against
    /// the vocabulary by the session, which knows it; its refusal names logit_bias.
    /// </summary>
    private static GenerationSettings Penalised(GenerationSettings settings, double? presence, double? frequency, double? repetition, JsonElement? logitBias)
    {
        static double Penalty(double? value, string param) => value is double v && !(v >= -2 && v <= 2)
            ? throw OpenAiException.BadRequest(param, $"'{param}' must be in [-2, 2]; got {v}.") : value ?? 0;
        double r = repetition ?? 1.0;
        if (!(r > 0 && r <= 10)) throw OpenAiException.BadRequest("repetition_penalty", $"'repetition_penalty' must be in (0, 10]; got {r}.");
        return settings with
        {
            PresencePenalty = Penalty(presence, "presence_penalty"),
            FrequencyPenalty = Penalty(frequency, "frequency_penalty"),
            RepetitionPenalty = r,
            LogitBias = LogitBias(logitBias),
        };
    }

    /// <summary>
    /// The response format's shape; the schema itself is compiled (and refused by name if outside the subset) by the
    /// session, which maps its refusal back to response_format.
    /// </summary>
    private static GenerationSettings Formatted(GenerationSettings settings, JsonElement? format)
    {
        if (format is not { ValueKind: not JsonValueKind.Null } f) return settings;
        if (f.ValueKind != JsonValueKind.Object || !f.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            throw OpenAiException.BadRequest("response_format", "'response_format' must be an object with a 'type' of text, json_object or json_schema.");
        switch (type.GetString())
        {
            case "text":
                return settings;
            case "json_object":
                return settings with { Format = OutputFormat.JsonObject };
            case "json_schema":
                if (!f.TryGetProperty("json_schema", out var spec) || spec.ValueKind != JsonValueKind.Object)
                    throw OpenAiException.BadRequest("response_format.json_schema", "'response_format.json_schema' must be an object with a 'schema'.");
                if (!spec.TryGetProperty("schema", out var schema) || schema.ValueKind != JsonValueKind.Object)
                    throw OpenAiException.BadRequest("response_format.json_schema.schema", "'response_format.json_schema.schema' must be a JSON Schema object.");
                return settings with { Format = OutputFormat.JsonSchema, JsonSchema = schema.GetRawText() };
            default:
                throw OpenAiException.BadRequest("response_format.type", $"'response_format.type' is '{type.GetString()}'; supported: text, json_object, json_schema.");
        }
    }

    /// <summary>
    /// The tools (each kept as its JSON text; the session checks them against the template's needs and names the one
    /// at fault) and tool_choice.
    /// </summary>
    private static GenerationSettings WithTools(GenerationSettings settings, JsonElement? tools, JsonElement? choice)
    {
        string[]? list = tools switch
        {
            null or { ValueKind: JsonValueKind.Null } => null,
            { ValueKind: JsonValueKind.Array } a => a.EnumerateArray().Select(t => t.GetRawText()).ToArray(),
            _ => throw OpenAiException.BadRequest("tools", "'tools' must be an array of function tools."),
        };
        if (list is { Length: 0 }) list = null;
        (string? kind, string? name) = choice switch
        {
            null or { ValueKind: JsonValueKind.Null } => (null, null),
            { ValueKind: JsonValueKind.String } c when c.GetString() is "none" or "auto" or "required" => (c.GetString(), null),
            { ValueKind: JsonValueKind.Object } c when c.TryGetProperty("type", out var t) && t.ValueEquals("function")
                && c.TryGetProperty("function", out var f) && f.ValueKind == JsonValueKind.Object
                && f.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String => ("function", n.GetString()),
            _ => throw OpenAiException.BadRequest("tool_choice", "'tool_choice' must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}."),
        };
        if (kind is "required" or "function" && list is null)
            throw OpenAiException.BadRequest("tool_choice", $"'tool_choice' asks for a call, but no 'tools' were given.");
        return settings with { Tools = list, ToolChoice = kind, ToolName = name };
    }

    private static string CallId(string id, string param) => id.Length <= ChatTurn.MaxToolCallIdChars ? id
        : throw OpenAiException.BadRequest(param, $"'{param}' is longer than {ChatTurn.MaxToolCallIdChars} characters.");

    /// <summary>An assistant message's earlier function calls, as the template renders them.</summary>
    private static ChatTurnToolCall[]? ToolCalls(JsonElement? calls, string param)
    {
        if (calls is not { ValueKind: not JsonValueKind.Null } list) return null;
        if (list.ValueKind != JsonValueKind.Array) throw OpenAiException.BadRequest(param, $"'{param}' must be an array.");
        return list.EnumerateArray().Select((c, i) =>
            c.ValueKind == JsonValueKind.Object && c.TryGetProperty("function", out var f) && f.ValueKind == JsonValueKind.Object
                && f.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String
                && f.TryGetProperty("arguments", out var a) && a.ValueKind is JsonValueKind.String or JsonValueKind.Object
                ? new ChatTurnToolCall(c.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String ? CallId(id.GetString()!, $"{param}[{i}].id") : $"call_{i}",
                    n.GetString()!, a.ValueKind == JsonValueKind.String ? a.GetString()! : a.GetRawText())
                : throw OpenAiException.BadRequest($"{param}[{i}]", $"'{param}[{i}]' must be {{\"id\", \"type\": \"function\", \"function\": {{\"name\", \"arguments\"}}}}.")).ToArray();
    }

    /// <summary>
    /// The reply's grammar (a JSON schema, a forced call) and its tools, built here by the cluster's own rules before
    /// any grain is named: a schema or tool the cluster would refuse costs no session activation and no storage read.
    /// </summary>
    private static GenerationSettings CheckShapes(GenerationSettings settings)
    {
        try
        {
            ToolDefinition.Parse(settings.Tools);
            ReplyGrammar.Of((int)settings.Format, settings.JsonSchema, settings.ToolChoice, settings.ToolName, settings.Tools, settings.ParallelToolCalls);
            return settings;
        }
        catch (ArgumentException e)
        {
            throw OpenAiException.BadRequest(e.ParamName == ReplyGrammar.FormatParameter ? "response_format" : "tools", e.Text());
        }
    }

    /// <summary>Most logit_bias entries (OpenAI's limit).</summary>
    public const int MaxLogitBias = 300;

    private static Dictionary<int, double>? LogitBias(JsonElement? bias)
    {
        if (bias is not { ValueKind: not JsonValueKind.Null } map) return null;
        if (map.ValueKind != JsonValueKind.Object)
            throw OpenAiException.BadRequest("logit_bias", "'logit_bias' must be an object mapping token ids to numbers.");
        var result = new Dictionary<int, double>();
        foreach (var entry in map.EnumerateObject())
        {
            if (!int.TryParse(entry.Name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int token))
                throw OpenAiException.BadRequest("logit_bias", $"'logit_bias' key '{entry.Name}' is not a token id (a non-negative integer).");
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetDouble(out double value) || !(value >= -100 && value <= 100))
                throw OpenAiException.BadRequest("logit_bias", $"'logit_bias' for token {token} must be a number in [-100, 100].");
            result[token] = value;
            if (result.Count > MaxLogitBias) throw OpenAiException.BadRequest("logit_bias", $"'logit_bias' may hold at most {MaxLogitBias} tokens.");
        }
        return result.Count > 0 ? result : null;
    }

    private static string[] StopStrings(JsonElement? stop) => stop switch
    {
        null or { ValueKind: JsonValueKind.Null } => Array.Empty<string>(),
        { ValueKind: JsonValueKind.String } s => new[] { s.GetString()! },
        { ValueKind: JsonValueKind.Array } a => a.EnumerateArray().Select((e, i) => e.ValueKind == JsonValueKind.String
            ? e.GetString()! : throw OpenAiException.BadRequest("stop", $"'stop[{i}]' must be a string.")).ToArray(),
        _ => throw OpenAiException.BadRequest("stop", "'stop' must be a string or an array of strings."),
    };

    /// <summary>A chat's <c>logprobs</c>/<c>top_logprobs</c> as <see cref="GenerationSettings.Logprobs"/>; alternatives need logprobs on, as OpenAI requires.</summary>
    private static int LogprobCount(bool? logprobs, int? top)
    {
        if (top is int k && logprobs != true && k > 0)
            throw OpenAiException.BadRequest("top_logprobs", "'top_logprobs' needs 'logprobs' set to true.");
        return logprobs == true ? TopLogprobs(top ?? 0, "top_logprobs") : -1;
    }

    private static int TopLogprobs(int k, string param) => k is >= 0 and <= MaxTopLogprobs ? k
        : throw OpenAiException.BadRequest(param, $"'{param}' must be in [0, {MaxTopLogprobs}]; got {k}.");

    /// <summary>Most alternatives per token (OpenAI's limit; the verifier's too).</summary>
    public const int MaxTopLogprobs = 20;

    private static int? MaxTokens(int? value, string param) =>
        value is int v && v < 1 ? throw OpenAiException.BadRequest(param, $"'{param}' must be at least 1; got {v}.") : value;

    private static int Choices(int? n, OpenAiOptions options)
    {
        int v = n ?? 1;
        if (v < 1 || v > options.MaxChoices)
            throw OpenAiException.BadRequest("n", $"'n' must be in [1, {options.MaxChoices}]; got {v}.");
        return v;
    }

    private static (bool Stream, bool IncludeUsage) Streaming(bool? stream, StreamOptions? options)
    {
        if (options is not null && stream != true)
            throw OpenAiException.BadRequest("stream_options", "'stream_options' is only allowed when 'stream' is true.");
        return (stream == true, options?.IncludeUsage == true);
    }

    /// <summary>The named session, parsed here once: only a valid <see cref="ConversationId"/> goes further (the tenant is checked by the plan).</summary>
    private static string? Session(string? session) =>
        session is null ? null
        : ConversationId.TryParse(session, out var id, out var error) ? id.ToString()
        : throw OpenAiException.BadRequest("session", $"'session' (or the X-SpecEdge-Session header): {error}");

    /// <summary>A message's text: a string, or an array of text parts (concatenated).</summary>
    private static string Content(JsonElement? content, string param) => content switch
    {
        { ValueKind: JsonValueKind.String } s => s.GetString()!,
        { ValueKind: JsonValueKind.Array } parts => string.Concat(parts.EnumerateArray().Select((part, i) =>
            part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var type) && type.ValueEquals("text")
                && part.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String
                ? text.GetString()!
                : throw OpenAiException.BadRequest($"{param}[{i}]", $"'{param}[{i}]' is not a text part; only {{\"type\": \"text\", \"text\": ...}} parts are supported."))),
        _ => throw OpenAiException.BadRequest(param, $"'{param}' must be a string or an array of text parts."),
    };

    /// <summary>
    /// Fields that are not properties of the request: one whose value asks for nothing (null, false, 0, empty, a text
    /// response format, tools that may not be called) passes; one this server cannot honour is a 400 naming it; any
    /// other is ignored and named in <paramref name="ignored"/>, or with <see cref="OpenAiOptions.StrictParameters"/> a 400.
    /// </summary>
    private static void CheckExtras(Dictionary<string, JsonElement>? other, string prefix, OpenAiOptions options, List<string> ignored)
    {
        if (other is null) return;
        foreach (var (name, value) in other)
        {
            if (AsksForNothing(name, value, other)) continue;
            if (options.StrictParameters || Unhonoured.Contains(name))
                throw OpenAiException.BadRequest(prefix + name, $"'{prefix}{name}' is not supported by this server.");
            ignored.Add(prefix + name);
        }
    }

    private static bool AsksForNothing(string name, JsonElement value, Dictionary<string, JsonElement> request) => value.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.False => true,
        JsonValueKind.Number => value.TryGetDouble(out double d) && (d == 0 || (d == 1 && name == "best_of")),
        JsonValueKind.String => value.GetString()!.Length == 0,
        JsonValueKind.Array => value.GetArrayLength() == 0,
        JsonValueKind.Object => !value.EnumerateObject().Any(),
        _ => false,
    };
}
