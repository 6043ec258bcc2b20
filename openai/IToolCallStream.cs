namespace SpecEdge.OpenAi;

/// <summary>A streamed reply that may call tools, turned into OpenAI's deltas as it arrives (one per reply).</summary>
public interface IToolCallStream
{
    /// <summary>The deltas <paramref name="text"/> completes; <paramref name="final"/> for the reply's last piece.</summary>
    List<ChunkDelta> Push(string text, bool final);

    /// <summary>True once any call has begun.</summary>
    bool AnyCall { get; }

    /// <summary>The reply ended inside a call it had begun (cut by its token limit): it finished for that, not with its calls.</summary>
    bool EndedInsideACall { get; }
}
