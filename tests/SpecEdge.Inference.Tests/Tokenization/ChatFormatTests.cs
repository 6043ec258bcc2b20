using SpecEdge.Inference.Tokenization;
using Xunit;

namespace SpecEdge.Inference.Tests.Tokenization;

/// <summary>Expected prompts are written by hand from the published templates, not produced by the code.</summary>
[Trait("Kind", "unit")]
public class ChatFormatTests
{
    private static readonly ChatMessage[] Conversation =
    [
        new("system", "You are helpful."),
        new("user", "Hi!"),
        new("assistant", "Hello! How can I help?"),
        new("user", "What is 2+2?"),
    ];

    private const string ChatMlPrompt =
        "<|im_start|>system\nYou are helpful.<|im_end|>\n" +
        "<|im_start|>user\nHi!<|im_end|>\n" +
        "<|im_start|>assistant\nHello! How can I help?<|im_end|>\n" +
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n" +
        "<|im_start|>assistant\n";

    private const string Llama3Prompt =
        "<|begin_of_text|>" +
        "<|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|>" +
        "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>" +
        "<|start_header_id|>assistant<|end_header_id|>\n\nHello! How can I help?<|eot_id|>" +
        "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>" +
        "<|start_header_id|>assistant<|end_header_id|>\n\n";

    private const string Llama2Prompt =
        "<s>[INST] <<SYS>>\nYou are helpful.\n<</SYS>>\n\nHi! [/INST] Hello! How can I help? </s>" +
        "<s>[INST] What is 2+2? [/INST]";

    [Fact]
    public void ChatMl_Qwen3_TwoTurns_MatchesPublishedTemplate()
    {
        var format = ChatFormat.For(ReferenceTokenizers.Qwen3);
        Assert.Equal(ChatFormatKind.ChatMl, format.Kind);
        Assert.Equal(ChatMlPrompt, format.Render(Conversation));
        Assert.Equal(ChatMlPrompt + "<think>\n\n</think>\n\n", format.Render(Conversation, enableThinking: false));
    }

    [Fact]
    public void ChatMl_Qwen3_DropsReasoningOfEarlierTurns()
    {
        var format = ChatFormat.For(ReferenceTokenizers.Qwen3);
        ChatMessage[] withThinking =
        [
            new("user", "Hi!"),
            new("assistant", "<think>\nGreet back.\n</think>\n\nHello!"),
            new("user", "Bye"),
        ];
        Assert.Equal(
            "<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n",
            format.Render(withThinking));
    }

    [Fact]
    public void Llama3_TwoTurns_MatchesPublishedTemplate()
    {
        var format = ChatFormat.For(ReferenceTokenizers.Llama3);
        Assert.Equal(ChatFormatKind.Llama3, format.Kind);
        Assert.Equal(Llama3Prompt, format.Render(Conversation));
        Assert.Equal(Llama3Prompt, format.Render(Conversation, enableThinking: false)); // no think blocks in Llama 3
    }

    [Fact]
    public void EndOfTurnToken_IsTheTokenClosingEachTurn()
    {
        Assert.Equal(151645, ReferenceTokenizers.Qwen3.TokenToId(ChatFormat.For(ReferenceTokenizers.Qwen3).EndOfTurnToken));
        Assert.Equal(128009, ReferenceTokenizers.Llama3.TokenToId(ChatFormat.For(ReferenceTokenizers.Llama3).EndOfTurnToken));
        Assert.Equal("</s>", new ChatFormat(ChatFormatKind.Llama2).EndOfTurnToken);
    }

    [Fact]
    public void Llama2_TwoTurns_MatchesPublishedFormat()
    {
        var format = new ChatFormat(ChatFormatKind.Llama2);
        Assert.Equal(Llama2Prompt, format.Render(Conversation));
    }

    [Fact]
    public void For_Override_WinsOverDetection()
    {
        Assert.Equal(ChatFormatKind.Llama2, ChatFormat.For(ReferenceTokenizers.Qwen3, ChatFormatKind.Llama2).Kind);
        Assert.Equal(ChatFormatKind.ChatMl, ChatFormat.Detect(t => t == "<|im_start|>", chatTemplate: null).Kind);
        Assert.Equal(ChatFormatKind.Llama3, ChatFormat.Detect(t => t == "<|start_header_id|>", chatTemplate: null).Kind);
        Assert.Equal(ChatFormatKind.Llama2, ChatFormat.Detect(_ => false, chatTemplate: null).Kind);
    }

    [Fact]
    public void ChatMlPrompt_EncodesSpecialTokensAsSingleIds()
    {
        var qwen = ReferenceTokenizers.Qwen3;
        int[] ids = qwen.Encode(ChatFormat.For(qwen).Render(Conversation, enableThinking: false));
        Assert.Equal(5, ids.Count(id => id == 151644)); // <|im_start|>
        Assert.Equal(4, ids.Count(id => id == 151645)); // <|im_end|>
        Assert.Equal(1, ids.Count(id => id == 151667)); // <think>
        Assert.Equal(1, ids.Count(id => id == 151668)); // </think>
        Assert.Equal([151644, 8948, 198], ids[..3]); // <|im_start|> system \n
        Assert.DoesNotContain(ids, id => !qwen.IsSpecial(id) && qwen.Decode([id]).Contains("<|"));
    }

    [Fact]
    public void Llama3Prompt_EncodesSpecialTokensAsSingleIds()
    {
        var llama = ReferenceTokenizers.Llama3;
        int[] ids = llama.Encode(ChatFormat.For(llama).Render(Conversation));
        Assert.Equal(128000, ids[0]); // <|begin_of_text|>
        Assert.Equal(1, ids.Count(id => id == 128000));
        Assert.Equal(5, ids.Count(id => id == 128006)); // <|start_header_id|>
        Assert.Equal(5, ids.Count(id => id == 128007)); // <|end_header_id|>
        Assert.Equal(4, ids.Count(id => id == 128009)); // <|eot_id|>
        Assert.DoesNotContain(ids, id => !llama.IsSpecial(id) && llama.Decode([id]).Contains("<|"));
    }
}
