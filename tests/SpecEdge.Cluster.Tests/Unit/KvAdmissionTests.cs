using SpecEdge.Grains.Verification;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>The device's hard KV budget as a rule, without a device: least recently used idle caches go first, busy ones never.</summary>
[Trait("Kind", "unit")]
public class KvAdmissionTests
{
    private static KvAdmission.Resident R(string id, bool evictable, long order) => new(id, evictable, order);

    [Fact]
    public void WhenOneMoreFits_NothingIsEvicted()
    {
        Assert.Empty(KvAdmission.Victims([R("a", true, 1), R("b", true, 2)], perSequence: 10, budget: 30));
        Assert.Empty(KvAdmission.Victims([], perSequence: 10, budget: 5));   // an empty device always admits one
    }

    [Fact]
    public void IdleCachesAreEvicted_LeastRecentlyUsedFirst_UntilOneMoreFits_NeverABusyOne()
    {
        var residents = new[] { R("busy-old", false, 1), R("idle-new", true, 9), R("idle-old", true, 3), R("idle-mid", true, 5) };
        Assert.Equal(new[] { "idle-old", "idle-mid" }, KvAdmission.Victims(residents, perSequence: 10, budget: 30));
    }

    [Fact]
    public void WhenEveryCacheIsBusy_TheNewConversationIsRefusedAtCapacity()
    {
        var e = Assert.Throws<VerifierBusyException>(() => KvAdmission.Victims([R("a", false, 1), R("b", true, 2), R("c", false, 3)], perSequence: 10, budget: 20));
        Assert.Contains("at capacity", e.Message);
        Assert.Contains("2 replies", e.Message);
    }
}
