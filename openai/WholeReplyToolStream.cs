using System.Text;
using SpecEdge.Inference.Tokenization;

namespace SpecEdge.OpenAi;

/// <summary>
/// A streamed reply of a family whose calls are the whole reply (Llama 3.1: one JSON object; Mistral: a [TOOL_CALLS]
/// array): content streams as it comes unless the reply's first visible character could open its calls ('{' or '['),
/// in which case the reply is held to its end and then comes out as its calls (one delta each: id, name and
/// arguments) or, if it is not wholly calls, as content (<see cref="ToolCallText.Split(string, ToolCallSyntax)"/>).
/// Leading whitespace waits for the first visible character.
/// </summary>
public sealed class WholeReplyToolStream(ToolCallSyntax syntax) : IToolCallStream
{
    private readonly StringBuilder _held = new();
    private bool? _holding;     // null until the first visible character says which

    public bool AnyCall { get; private set; }

    /// <summary>Never: a reply cut inside its calls does not parse, so it comes out as content.</summary>
    public bool EndedInsideACall => false;

    public List<ChunkDelta> Push(string text, bool final)
    {
        var deltas = new List<ChunkDelta>();
        if (_holding is false)
        {
            if (text.Length > 0) deltas.Add(new ChunkDelta(Content: text));
            return deltas;
        }
        _held.Append(text);
        if (_holding is null)
        {
            int first = 0;
            while (first < _held.Length && char.IsWhiteSpace(_held[first])) first++;
            if (first < _held.Length) _holding = _held[first] == (syntax.Opening.Length > 0 ? syntax.Opening[0] : '{');
            if (_holding is false)
            {
                deltas.Add(new ChunkDelta(Content: _held.ToString()));
                _held.Clear();
                return deltas;
            }
        }
        if (!final) return deltas;
        var (content, calls) = ToolCallText.Split(_held.ToString(), syntax);
        AnyCall = calls.Length > 0;
        if (content is { Length: > 0 }) deltas.Add(new ChunkDelta(Content: content));
        if (calls.Length > 0) deltas.Add(new ChunkDelta(ToolCalls: calls.Select(ToolCallDelta.Of).ToArray()));
        return deltas;
    }
}
