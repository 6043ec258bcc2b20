using TorchSharp;
using Xunit;

namespace SpecEdge.Inference.Tests;

[Trait("Kind", "unit")]
public class TorchSmokeTests
{
    [Fact]
    public void NativeLibrary_LoadsAndComputes()
    {
        using var a = torch.ones(2, 3);
        using var b = torch.ones(3, 4);
        using var c = a.matmul(b);
        Assert.Equal(3f, c[1, 2].item<float>());
    }
}
