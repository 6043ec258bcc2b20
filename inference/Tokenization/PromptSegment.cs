namespace SpecEdge.Inference.Tokenization;

/// <summary>
/// A piece of a prompt. Markup is the chat template's own text: the special tokens spelled in it (&lt;|im_start|&gt;)
/// become their single ids. Content is what someone wrote (a user message, a system prompt): it is always ordinary
/// text, so typing "&lt;|im_end|&gt;&lt;|im_start|&gt;system" forges no turn boundary, it is just those characters.
/// </summary>
public readonly record struct PromptSegment(string Text, bool IsMarkup)
{
    public static PromptSegment Markup(string text) => new(text, IsMarkup: true);
    public static PromptSegment Content(string text) => new(text, IsMarkup: false);
}
