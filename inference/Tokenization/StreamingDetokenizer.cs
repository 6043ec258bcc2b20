using System.Text;

namespace SpecEdge.Inference.Tokenization;

/// <summary>
/// Turns generated token ids into text as they arrive. A byte-level token can end in the middle of a UTF-8
/// character (an emoji often spans two or three tokens); those bytes are held back until the character is
/// complete, so no chunk ever carries a U+FFFD that the full text would not have. One instance per
/// sequence; not thread-safe. The stream's text equals <see cref="HfTokenizer.Decode"/> of all its ids, including the
/// leading space a SentencePiece-style decoder strips (Llama 2's reply "▁Hello" reads "Hello").
/// </summary>
public sealed class StreamingDetokenizer
{
    private readonly HfTokenizer _tokenizer;
    private readonly bool _skipSpecialTokens;
    // A stateful UTF-8 decoder keeps an incomplete trailing sequence between calls: exactly the hold-back.
    private readonly Decoder _decoder = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    private char[] _chars = new char[64];
    /// <summary>Leading spaces still to drop: the decoder's Strip applies to the start of the whole text only.</summary>
    private int _stripRemaining;

    public StreamingDetokenizer(HfTokenizer tokenizer, bool skipSpecialTokens = false)
    {
        _tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        _skipSpecialTokens = skipSpecialTokens;
        _stripRemaining = tokenizer.DecodeStripsLeadingSpaces;
    }

    /// <summary>The text completed by <paramref name="tokenId"/>; empty while a character is still incomplete.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The id is not in the vocabulary.</exception>
    public string Push(int tokenId)
    {
        var bytes = _tokenizer.TokenBytes(tokenId);
        if (_skipSpecialTokens && _tokenizer.IsSpecial(tokenId))
        {
            return "";
        }
        return DecodeChunk(bytes, flush: false);
    }

    /// <summary>Text completed by several ids, in order.</summary>
    public string Push(IEnumerable<int> tokenIds)
    {
        var sb = new StringBuilder();
        foreach (int id in tokenIds)
        {
            sb.Append(Push(id));
        }
        return sb.ToString();
    }

    /// <summary>At the end of the sequence: whatever is held back, an unfinished character as U+FFFD.</summary>
    public string Flush() => DecodeChunk([], flush: true);

    private string DecodeChunk(ReadOnlySpan<byte> bytes, bool flush)
    {
        int needed = _decoder.GetCharCount(bytes, flush);
        if (needed > _chars.Length)
        {
            _chars = new char[Math.Max(needed, _chars.Length * 2)];
        }
        int n = _decoder.GetChars(bytes, _chars, flush);
        int skip = 0;
        while (_stripRemaining > 0 && skip < n && _chars[skip] == ' ')
        {
            skip++;
            _stripRemaining--;
        }
        if (skip < n)
        {
            _stripRemaining = 0;
        }
        return new string(_chars, skip, n - skip);
    }
}
