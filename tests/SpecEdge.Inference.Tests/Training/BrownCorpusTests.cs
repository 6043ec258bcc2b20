using SpecEdge.Inference.Training;
using Xunit;

namespace SpecEdge.Inference.Tests.Training;

[Trait("Kind", "unit")]
public class BrownCorpusTests
{
    [Fact]
    public void Detag_StripsTagsAndRestoresPrintedSpacing()
    {
        var lines = new[]
        {
            "",
            "\t``/`` Only/rb a/at handful/nn ''/'' ,/, the/at jury/nn said/vbd ./.",
            "It/pps did/dod n't/*-rb ,/, (/( they/ppss said/vbd )/) ;/. ok/uh ?/.",
            "",
            "Merger/nn-hl proposed/vbn-hl",
            "\tPrices/nns rose/vbd 1/2/cd per/in cent/nn ./.",
        };
        Assert.Equal(
            "\"Only a handful\", the jury said. It didn't, (they said); ok?\nMerger proposed\nPrices rose 1/2 per cent.",
            BrownCorpus.Detag(lines));
    }

    [Fact]
    public void Split_HoldsOutEveryTenthDocument()
    {
        var docs = Enumerable.Range(0, 25).Select(i => new BrownCorpus.Document($"d{i}", $"text {i}")).ToList();
        var (train, heldOut) = BrownCorpus.Split(docs);
        Assert.Equal(new[] { "d9", "d19" }, heldOut.Select(d => d.Id));
        Assert.Equal(23, train.Count);
        Assert.Empty(train.Intersect(heldOut));
    }
}
