using System.Runtime.CompilerServices;
using SpecEdge.Contracts;
using SpecEdge.Inference.Speculative;
using SpecEdge.Inference.Tokenization;

namespace SpecEdge.Grains.Sessions;

/// <summary>
/// What readers see of the reply in progress: numbered chunks of text, detokenised without half characters, with any
/// tail that could still grow into a stop string held back until it cannot. The session feeds it in two phases, so that
/// nothing reaches a reader before it is durable: <see cref="Prepare"/> when a step is committed in memory (text is
/// derived in step order), <see cref="Publish"/> once the step's state write has completed. Chunks are a pure function of
/// the reply's tokens and the persisted chunk sizes, so a new activation (or a rollback) rebuilds exactly the chunks and
/// numbers readers saw before.
/// </summary>
public sealed class ReplyStream(HfTokenizer tokenizer)
{
    private readonly List<ReplyChunk> _chunks = new();
    private StreamingDetokenizer _detokenizer = new(tokenizer, skipSpecialTokens: true);
    private string _heldBack = "";
    private TaskCompletionSource _changed = NewSignal();

    /// <summary>Everything published so far, concatenated (the reply's visible text).</summary>
    public string Text { get; private set; } = "";
    /// <summary>The text of steps prepared but not yet published, i.e. <see cref="Text"/> once they are.</summary>
    public string PreparedText { get; private set; } = "";
    public bool Ended => _chunks.Count > 0 && _chunks[^1].Final;

    /// <summary>Starts a new reply: no chunks, a fresh detokenizer.</summary>
    public void Reset()
    {
        _chunks.Clear();
        Text = PreparedText = _heldBack = "";
        _detokenizer = new StreamingDetokenizer(tokenizer, skipSpecialTokens: true);
        Signal();
    }

    /// <summary>
    /// Rebuilds the chunks from durable state: the reply's tokens, cut at <paramref name="chunkSizes"/> (one chunk for
    /// the whole reply if the sizes do not add up, as in state written before sizes were persisted).
    /// </summary>
    public void Rebuild(int[] reply, IReadOnlyList<int> chunkSizes, bool generating, string? persistedFinish, IReadOnlyList<string> stopStrings)
    {
        Reset();
        var sizes = chunkSizes.Sum() == reply.Length ? chunkSizes : reply.Length > 0 ? new[] { reply.Length } : Array.Empty<int>();
        int position = 0;
        for (int i = 0; i < sizes.Count; i++)
        {
            bool final = !generating && i == sizes.Count - 1;
            var tokens = reply[position..(position + sizes[i])];
            position += sizes[i];
            Publish(tokens, Prepare(tokens, final, stopStrings), final, final ? persistedFinish : null);
        }
    }

    /// <summary>
    /// The new visible text of a step's <paramref name="tokens"/>: never half a character and never part of a stop string
    /// (<paramref name="final"/> flushes the detokenizer and cuts at the first stop string).
    /// </summary>
    public string Prepare(int[] tokens, bool final, IReadOnlyList<string> stopStrings)
    {
        string text = _heldBack + _detokenizer.Push(tokens) + (final ? _detokenizer.Flush() : "");
        string visible;
        if (final)
        {
            _heldBack = "";
            visible = StopCriteria.TrimAtStopString(text, stopStrings);
        }
        else
        {
            int hold = 0;
            foreach (var stop in stopStrings)
                for (int n = Math.Min(stop.Length - 1, text.Length); n > hold; n--)
                    if (text.AsSpan(text.Length - n).SequenceEqual(stop.AsSpan(0, n))) { hold = n; break; }
            _heldBack = text[(text.Length - hold)..];
            visible = text[..(text.Length - hold)];
        }
        PreparedText += visible;
        return visible;
    }

    /// <summary>Makes a prepared step visible to readers as the next chunk; a final one carries why the reply ended (as persisted, see <see cref="PersistedFinish"/>).</summary>
    public void Publish(int[] tokens, string text, bool final, string? persistedFinish, TokenLogprob[]? logprobs = null)
    {
        Text += text;
        var (reason, error) = PersistedFinish.Read(persistedFinish);
        _chunks.Add(new ReplyChunk(_chunks.Count, text, tokens, final, reason, error, logprobs?.Select(ForReaders).ToArray()));
        Signal();
    }

    /// <summary>A verdict's log probability with its token's text and bytes, and its alternatives' (single precision, as readers get them).</summary>
    private ReplyLogprob ForReaders(TokenLogprob l) => new(TokenText(l.Token), TokenBytes(l.Token), (float)l.Logprob,
        l.TopTokens.Select((t, i) => new ReplyLogprob(TokenText(t), TokenBytes(t), (float)l.TopLogprobs[i])).ToArray());

    private byte[] TokenBytes(int id) => tokenizer.TokenBytes(id).ToArray();

    private string TokenText(int id) => System.Text.Encoding.UTF8.GetString(tokenizer.TokenBytes(id));

    /// <summary>Chunks from <paramref name="fromChunk"/> on, as they are published, until the final one.</summary>
    public async IAsyncEnumerable<ReplyChunk> ReadAsync(int fromChunk, Func<bool> generating, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        int next = fromChunk;
        while (true)
        {
            var signal = _changed.Task;
            while (next < _chunks.Count) yield return _chunks[next++];
            // End on the final chunk, not on the session's Generating flag, which drops before the last chunk is durable.
            if (_chunks.Count > 0 ? _chunks[^1].Final : !generating()) yield break;
            await signal.WaitAsync(cancellation);
        }
    }

    /// <summary>Completes when the reply has ended (its final chunk is published); returns the reply's text.</summary>
    public async Task<string> WaitForEndAsync()
    {
        while (!Ended) await _changed.Task;
        return Text;
    }

    private void Signal()
    {
        var old = _changed;
        _changed = NewSignal();
        old.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
