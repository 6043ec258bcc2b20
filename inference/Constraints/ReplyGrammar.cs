using SpecEdge.Inference.Tokenization;

namespace SpecEdge.Inference.Constraints;

/// <summary>
/// The grammar a reply must follow, from the plain parts of its settings: a forced tool call (tool_choice "required" or
/// "function"), else a JSON response format, else none. One rule for the verifier, which decodes under it, and for
/// the drafters that follow it.
/// </summary>
public static class ReplyGrammar
{
    /// <summary>The parameter names of its refusals: the tool settings, or the response format.</summary>
    public const string ToolsParameter = "tools", FormatParameter = "format";

    /// <summary>Most calls one reply may make when parallel tool calls are allowed ("required").</summary>
    public const int MaxParallelCalls = 8;

    /// <param name="format">0 free text, 1 any JSON object, 2 JSON matching <paramref name="jsonSchema"/> (the contracts' OutputFormat).</param>
    /// <param name="parallelToolCalls">With "required", the reply may make up to <see cref="MaxParallelCalls"/> calls, one after another (OpenAI's parallel_tool_calls, on by default); a named function is called once.</param>
    /// <exception cref="ArgumentException">The settings ask for what cannot be built; <see cref="ArgumentException.ParamName"/> says which part.</exception>
    /// <param name="syntax">How the model writes calls (its chat format's <see cref="ChatFormat.ToolCalls"/>); Qwen's when not given.</param>
    public static JsonGrammar? Of(int format, string? jsonSchema, string? toolChoice, string? toolName, IReadOnlyList<string>? tools, bool parallelToolCalls,
        ToolCallSyntax? syntax = null)
    {
        syntax ??= ToolCallSyntax.ChatMl;
        if (toolChoice is "required" or "function")
        {
            try
            {
                if (format != 0) throw new ArgumentException("A forced tool call and a JSON response format cannot both shape one reply.");
                var definitions = ToolDefinition.Parse(tools);
                if (definitions.Count == 0) throw new ArgumentException($"tool_choice '{toolChoice}' needs tools.");
                if (toolChoice == "function")
                    definitions = definitions.Where(t => t.Name == toolName).ToArray() is [var named] ? [named]
                        : throw new ArgumentException($"tool_choice names the function '{toolName}', which is not among the tools.");
                return JsonGrammar.ToolCall(definitions.Select(t => (t.Name, t.Parameters)).ToArray(), syntax,
                    toolChoice == "required" && parallelToolCalls && syntax.Parallel ? MaxParallelCalls : 1);
            }
            catch (ArgumentException e) when (e.ParamName != ToolsParameter)
            {
                throw e.Renamed(ToolsParameter);
            }
        }
        if (toolChoice is not (null or "auto" or "none"))
            throw new ArgumentException($"tool_choice '{toolChoice}' is none of auto, none, required or a function.", ToolsParameter);
        try
        {
            return format switch
            {
                0 => null,
                1 => JsonGrammar.AnyObject,
                2 => JsonGrammar.FromSchema(jsonSchema ?? throw new ArgumentException("A JSON schema response format needs its schema.")),
                _ => throw new ArgumentException($"Unknown output format {format}."),
            };
        }
        catch (ArgumentException e) when (e.ParamName != FormatParameter)
        {
            throw e.Renamed(FormatParameter);
        }
    }
}
