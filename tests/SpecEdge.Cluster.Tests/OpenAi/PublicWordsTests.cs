using SpecEdge.OpenAi;
using Xunit;

namespace SpecEdge.Cluster.Tests.OpenAi;

/// <summary>Error messages leave in the API's terms: no option names, no .NET type names (messages as our code and the JSON reader write them).</summary>
[Trait("Kind", "unit")]
public class PublicWordsTests
{
    [Theory]
    [InlineData("The JSON value could not be converted to System.Nullable`1[System.Int64]. Path: $.max_tokens", "The JSON value could not be converted to an integer. Path: $.max_tokens")]
    [InlineData("The JSON value could not be converted to System.Double.", "The JSON value could not be converted to a number.")]
    [InlineData("The JSON value could not be converted to SpecEdge.OpenAi.RequestMessage[].", "The JSON value could not be converted to an array.")]
    [InlineData("The JSON value could not be converted to System.Collections.Generic.List`1[SpecEdge.OpenAi.RequestMessage].", "The JSON value could not be converted to an array.")]
    [InlineData("max_tokens must be in [1, 2048] (SpecEdge:MaxNewTokensLimit); got 100000.", "max_tokens must be in [1, 2048]; got 100000.")]
    [InlineData("Too many requests with this API key: at most 50 a second (OpenAi:MaxRequestsPerSecondPerKey); retry later.", "Too many requests with this API key: at most 50 a second; retry later.")]
    [InlineData("Nothing internal here (but parentheses stay).", "Nothing internal here (but parentheses stay).")]
    public void Messages_LoseOptionAndTypeNames(string ours, string theirs) => Assert.Equal(theirs, PublicWords.Of(ours));
}
