namespace SpecEdge.Inference.Tokenization;

/// <summary>Collects a rendered prompt as <see cref="PromptSegment"/>s, merging neighbours of the same kind.</summary>
internal sealed class PromptBuilder
{
    private readonly List<PromptSegment> _segments = new();

    public PromptBuilder Markup(string text) => Add(text, isMarkup: true);
    public PromptBuilder Content(string text) => Add(text, isMarkup: false);

    public IReadOnlyList<PromptSegment> Segments => _segments;

    private PromptBuilder Add(string text, bool isMarkup)
    {
        if (text.Length == 0) return this;
        if (_segments.Count > 0 && _segments[^1].IsMarkup == isMarkup)
            _segments[^1] = _segments[^1] with { Text = _segments[^1].Text + text };
        else
            _segments.Add(new PromptSegment(text, isMarkup));
        return this;
    }
}
