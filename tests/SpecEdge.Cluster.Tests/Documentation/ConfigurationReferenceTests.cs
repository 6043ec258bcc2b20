using Xunit;

namespace SpecEdge.Cluster.Tests.Documentation;

/// <summary>docs/configuration.md is what the options classes say today.</summary>
[Trait("Kind", "unit")]
public class ConfigurationReferenceTests
{
    [Fact]
    public void ConfigurationReference_MatchesTheOptionsClasses()
    {
        string root = ClusterFixture.RepoRoot();
        string path = Path.Combine(root, "docs", "configuration.md");
        string rendered = ConfigurationReference.Render(root);
        if (Environment.GetEnvironmentVariable("SPECEDGE_UPDATE_DOCS") == "1") File.WriteAllText(path, rendered);
        Assert.True(File.Exists(path), "docs/configuration.md is missing: run this test with SPECEDGE_UPDATE_DOCS=1 to write it.");
        Assert.True(rendered == File.ReadAllText(path),
            "docs/configuration.md is stale: run `SPECEDGE_UPDATE_DOCS=1 dotnet test tests/SpecEdge.Cluster.Tests --filter ConfigurationReference` and commit it.");
        // Every section the silo reads is documented (the deployment tests check the silo's keys against the same sections).
        foreach (var section in new[] { "SpecEdge", "Cluster", "Security", "Tls", "Gateway", "OpenAi", "Edge", "Credential" })
            Assert.Contains($"## `{section}`", rendered);
    }
}
