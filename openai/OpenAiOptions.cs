namespace SpecEdge.OpenAi;

/// <summary>Configuration section <c>OpenAi</c> of a host that serves the API.</summary>
public sealed class OpenAiOptions
{
    public const string Section = "OpenAi";

    /// <summary>The model id clients send and <c>GET /v1/models</c> lists; empty: the host picks one (the target model's directory name).</summary>
    public string? ModelName { get; set; }

    /// <summary><c>max_tokens</c> when a request gives none (OpenAI's own default is "until the context is full").</summary>
    public int DefaultMaxTokens { get; set; } = 512;

    /// <summary>
    /// Requests a second one API key may make, in bursts of twice that; more get 429 <c>rate_limit_exceeded</c> with a
    /// <c>Retry-After</c> header. 0 turns the limit off. Concurrent replies are bounded separately, by the tenant's
    /// reply quota (<c>SpecEdge:MaxActiveRepliesPerTenant</c>).
    /// </summary>
    public double MaxRequestsPerSecondPerKey { get; set; } = 50;

    /// <summary>
    /// Failed requests (401, 403, 400, 404, 413) one remote address may make a second, in bursts of twice that; past it
    /// the address gets 429 with <c>Retry-After</c> before its key is checked. 0 turns the limit off.
    /// </summary>
    public double MaxFailedRequestsPerSecondPerAddress { get; set; } = 20;

    /// <summary>
    /// False (default): a field this server does not know is ignored, named in the response header
    /// <c>X-SpecEdge-Ignored-Fields</c> and logged at debug level, as vLLM, llama.cpp and Ollama do. A field it knows but
    /// cannot honour (the legacy functions/function_call, best_of, echo, suffix) is a 400
    /// either way, unless its value asks for nothing. True: every field it does not implement is a 400 naming it.
    /// </summary>
    public bool StrictParameters { get; set; }

    /// <summary>Most choices (<c>n</c>) one request may ask for; each is a reply of its own, decoded side by side.</summary>
    public int MaxChoices { get; set; } = 8;

    /// <summary>Largest request body read; a bigger one is refused (413) before it is parsed.</summary>
    public long MaxRequestBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// Origins of the browser apps that may call the API from their pages (CORS), for example
    /// <c>https://chat.example.com</c>; <c>*</c> lets any page call it (with its users' keys). Empty (default): none.
    /// </summary>
    public string[] CorsOrigins { get; set; } = Array.Empty<string>();

    /// <summary>Refuses settings that make no sense, naming the option.</summary>
    public void Validate()
    {
        if (MaxChoices < 1) throw new InvalidOperationException($"OpenAi:MaxChoices must be at least 1 (got {MaxChoices}).");
        foreach (string origin in CorsOrigins)
            if (origin != "*" && !(Uri.TryCreate(origin, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.PathAndQuery == "/" && !origin.EndsWith('/')))
                throw new InvalidOperationException($"OpenAi:CorsOrigins holds '{origin}': an origin is * or scheme://host[:port], without a path or a trailing slash.");
    }
}
