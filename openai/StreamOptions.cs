namespace SpecEdge.OpenAi;

/// <summary><c>stream_options</c>: with <see cref="IncludeUsage"/>, a last chunk before <c>[DONE]</c> carries the usage.</summary>
public sealed record StreamOptions
{
    public bool? IncludeUsage { get; init; }
}
