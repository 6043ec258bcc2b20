using System.Text;
using System.Text.Json;

namespace SpecEdge.OpenAi;

/// <summary>
/// A reply that may call tools, split as it streams, the way OpenAI streams one: its text as content deltas, each
/// <c>&lt;tool_call&gt;</c> block (<see cref="ToolCallText"/>) as a first delta with the call's id and function name, then
/// its arguments piece by piece as the model writes them. Only what cannot yet be told apart is held back: a possible
/// start of a block, whitespace that may turn out to stand beside a call, a call's arguments until its name is known.
/// A block that is not a call after all (an unexpected key, no name, not JSON) comes out as content once it closes, and
/// one still open when the reply ends too, unless its call had begun (then its arguments stop where the model stopped,
/// as OpenAI's do at <c>finish_reason: length</c>). Concatenated, the deltas give what <see cref="ToolCallText.Split"/>
/// gives for a reply of well-formed calls (content up to the whitespace at its ends).
/// </summary>
public sealed class ToolCallStream : IToolCallStream
{
    private const string Open = "<tool_call>", Close = "</tool_call>";
    private readonly StringBuilder _outside = new();    // text outside blocks not yet emitted (may hold the start of Open)
    private string _space = "";                         // whitespace held back from content: it may stand beside a call
    private bool _contentStarted;
    private CallScanner? _call;                         // the block being read
    private int _calls;

    /// <summary>True once any call has begun.</summary>
    public bool AnyCall => _calls > 0;

    /// <summary>The reply ended inside a call it had begun (cut by its token limit): it finished for that, not with its calls.</summary>
    public bool EndedInsideACall { get; private set; }

    /// <summary>Reads the next piece of the reply; returns the deltas it completes (content, or one call's delta each).</summary>
    public List<ChunkDelta> Push(string text, bool final)
    {
        var deltas = new List<ChunkDelta>();
        foreach (char c in text)
        {
            if (_call is { } call)
            {
                call.Read(c, deltas);
                if (call.Closed) End(call, deltas);
                continue;
            }
            _outside.Append(c);
            if (_outside.Length >= Open.Length && _outside.ToString(_outside.Length - Open.Length, Open.Length) == Open)
            {
                _outside.Length -= Open.Length;
                Content(_outside.ToString(), deltas, beforeCall: true);
                _outside.Clear();
                _call = new CallScanner(_calls);
            }
        }
        // A call's arguments read in this piece go out as one delta.
        _call?.Flush(deltas);
        if (final)
        {
            if (_call is { } open) End(open, deltas);
            Content(_outside.ToString(), deltas, beforeCall: false);
            _outside.Clear();
            if (!AnyCall && _space.Length > 0) deltas.Add(new ChunkDelta(Content: _space));
            _space = "";
        }
        else
        {
            // Emit what cannot be the start of a block.
            int keep = HeldPrefix(_outside);
            Content(_outside.ToString(0, _outside.Length - keep), deltas, beforeCall: false);
            _outside.Remove(0, _outside.Length - keep);
        }
        return deltas;
    }

    /// <summary>Chars at the end of <paramref name="text"/> that could begin <see cref="Open"/>.</summary>
    private static int HeldPrefix(StringBuilder text)
    {
        for (int n = Math.Min(Open.Length - 1, text.Length); n > 0; n--)
            if (text.ToString(text.Length - n, n) == Open[..n]) return n;
        return 0;
    }

    /// <summary>Content text out; whitespace at its end is held, and dropped if a call comes next (as Split trims).</summary>
    private void Content(string text, List<ChunkDelta> deltas, bool beforeCall)
    {
        if (text.Length == 0) return;
        string trimmed = text.TrimEnd();
        if (trimmed.Length == 0)
        {
            _space += text;
        }
        else
        {
            // Whitespace at the very start of a reply that turns out to call tools is trimmed too; that is only known
            // later, so leading whitespace goes out with the first content (a client shows it either way).
            deltas.Add(new ChunkDelta(Content: _space + trimmed));
            _contentStarted = true;
            _space = text[trimmed.Length..];
        }
        if (beforeCall && !_contentStarted) _space = "";
    }

    private void End(CallScanner call, List<ChunkDelta> deltas)
    {
        _call = null;
        call.Flush(deltas);
        if (call.Started)
        {
            _calls++;
            EndedInsideACall = !call.Closed;
            return;
        }
        // Not a call after all: the block is content, as Split leaves a block it cannot read.
        if (call.AsCall() is { } whole)
        {
            _calls++;
            deltas.Add(new ChunkDelta(ToolCalls: [ToolCallDelta.Of(whole with { Index = call.Index })]));
            return;
        }
        Content(Open + call.Raw + (call.Closed ? Close : ""), deltas, beforeCall: false);
    }

    /// <summary>
    /// One block's body, read character by character: a JSON object with "name" (a string) and "arguments" (any JSON
    /// value; other keys are read past), then the closing tag. The arguments' text streams once the name is known;
    /// anything else makes the block plain text, kept whole (<see cref="Raw"/>) and judged when it closes.
    /// </summary>
    private sealed class CallScanner(int index)
    {
        private enum Part { BeforeObject, BeforeKey, Key, AfterKey, BeforeValue, Value, AfterValue, AfterObject }

        private readonly StringBuilder _raw = new(), _key = new(), _value = new(), _tail = new();
        private Part _part = Part.BeforeObject;
        private string? _name, _currentKey;
        private int _depth;
        private bool _inString, _escaped, _valueIsString, _failed;
        private string? _arguments;           // a complete arguments value (or its text so far, before the name is known)
        private readonly StringBuilder _pendingArguments = new(), _unsent = new();

        public int Index { get; } = index;
        public string Raw => _raw.ToString();
        public bool Closed { get; private set; }
        /// <summary>Its first delta (id and name) went out: it is a call, whatever follows.</summary>
        public bool Started { get; private set; }

        public void Read(char c, List<ChunkDelta> deltas)
        {
            _raw.Append(c);
            if (_failed || _part == Part.AfterObject)
            {
                // Only whitespace and the closing tag may follow; the tag ends the block either way. (Checked on the tail's
                // last characters: a long malformed block must not cost a copy of itself per character.)
                _tail.Append(c);
                if (_tail.Length >= Close.Length && _tail.ToString(_tail.Length - Close.Length, Close.Length) == Close)
                {
                    _raw.Length -= Close.Length;
                    if (!_failed && _tail.ToString(0, _tail.Length - Close.Length).Trim().Length > 0) _failed = true;
                    Closed = true;
                }
                return;
            }
            switch (_part)
            {
                case Part.BeforeObject:
                    if (c == '{') _part = Part.BeforeKey;
                    else if (!char.IsWhiteSpace(c)) Fail();
                    break;
                case Part.BeforeKey:
                    if (c == '"') { _part = Part.Key; _key.Clear(); }
                    else if (c == '}') _part = Part.AfterObject;
                    else if (c != ',' && !char.IsWhiteSpace(c)) Fail();
                    break;
                case Part.Key:
                    if (c == '"' && !_escaped) { _currentKey = _key.ToString(); _part = Part.AfterKey; }
                    else { _escaped = c == '\\' && !_escaped; _key.Append(c); }
                    break;
                case Part.AfterKey:
                    if (c == ':') _part = Part.BeforeValue;
                    else if (!char.IsWhiteSpace(c)) Fail();
                    break;
                case Part.BeforeValue:
                    if (char.IsWhiteSpace(c)) break;
                    _part = Part.Value;
                    _value.Clear();
                    _depth = 0;
                    _inString = false;
                    _escaped = false;
                    _valueIsString = c == '"';
                    Value(c, deltas);
                    break;
                case Part.Value:
                    Value(c, deltas);
                    break;
                case Part.AfterValue:
                    if (c == ',') _part = Part.BeforeKey;
                    else if (c == '}') Finish();
                    else if (!char.IsWhiteSpace(c)) Fail();
                    break;
            }
        }

        /// <summary>One character of a value; a scalar other than a string ends at the first delimiter after it.</summary>
        private void Value(char c, List<ChunkDelta> deltas)
        {
            bool scalar = _depth == 0 && !_inString && _value.Length > 0 && !_valueIsString && _value[0] is not ('{' or '[');
            if (scalar && (c is ',' or '}' || char.IsWhiteSpace(c)))
            {
                EndValue(deltas);
                Reread(c, deltas);
                return;
            }
            _value.Append(c);
            if (_currentKey == "arguments" && !_valueIsString) (Started ? _unsent : _pendingArguments).Append(c);
            if (_inString)
            {
                if (_escaped) _escaped = false;
                else if (c == '\\') _escaped = true;
                else if (c == '"') _inString = false;
            }
            else if (c == '"') _inString = true;
            else if (c is '{' or '[') _depth++;
            else if (c is '}' or ']') _depth--;
            if (_depth == 0 && !_inString && (_valueIsString ? _value.Length > 1 : _value[0] is '{' or '[')) EndValue(deltas);
        }

        /// <summary>A character already kept in <see cref="Raw"/>, read again in the part after a scalar value.</summary>
        private void Reread(char c, List<ChunkDelta> deltas)
        {
            _raw.Length--;
            Read(c, deltas);
        }

        private void EndValue(List<ChunkDelta> deltas)
        {
            _part = Part.AfterValue;
            string value = _value.ToString();
            if (_currentKey == "name")
            {
                if (_name is not null || !TryString(value, out var name)) { _failed = true; return; }
                _name = name;
                Start(deltas);
            }
            else if (_currentKey != "arguments") { }            // another key: read past
            else if (_arguments is not null) _failed = true;   // a second "arguments"
            else if (_valueIsString)
            {
                // Arguments written as a JSON string hold the JSON text: sent decoded, in one piece.
                if (!TryString(value, out var text)) { _failed = true; return; }
                _arguments = text;
                Arguments(text);
            }
            else _arguments = value;
        }

        /// <summary>Arguments text to send (with the next <see cref="Flush"/>), or held until the call's name is known.</summary>
        private void Arguments(string text) => (Started ? _unsent : _pendingArguments).Append(text);

        /// <summary>The arguments read since the last flush, as one delta.</summary>
        public void Flush(List<ChunkDelta> deltas)
        {
            if (_unsent.Length == 0) return;
            deltas.Add(new ChunkDelta(ToolCalls: [new ToolCallDelta(Index, null, null, new ToolFunctionDelta(null, _unsent.ToString()))]));
            _unsent.Clear();
        }

        private void Start(List<ChunkDelta> deltas)
        {
            Started = true;
            deltas.Add(new ChunkDelta(ToolCalls: [new ToolCallDelta(Index, ToolCallText.NewId(), "function", new ToolFunctionDelta(_name, ""))]));
            _unsent.Append(_pendingArguments);
            _pendingArguments.Clear();
        }

        private void Finish()
        {
            _part = Part.AfterObject;
            if (!Started) { _failed = true; return; }
            // A call without arguments has an empty object, as Split gives it.
            if (_arguments is null) Arguments("{}");
        }

        private void Fail()
        {
            // Once its first delta is out a call stays a call (its arguments end where they end); before, the block is text.
            if (!Started) _failed = true;
            else _part = Part.AfterObject;
        }

        private static bool TryString(string json, out string value)
        {
            value = "";
            try
            {
                using var document = JsonDocument.Parse(json);
                if (document.RootElement.ValueKind != JsonValueKind.String) return false;
                value = document.RootElement.GetString()!;
                return true;
            }
            catch (JsonException) { return false; }
        }

        /// <summary>The block read whole, when it never began as a call (a shape this scanner does not follow).</summary>
        public ToolCall? AsCall() => Closed ? ToolCallText.Parse(_raw.ToString()) : null;
    }
}
