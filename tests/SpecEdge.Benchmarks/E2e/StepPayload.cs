using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;

namespace SpecEdge.Benchmarks.E2e;

/// <summary>
/// What one edge step's own content weighs, serialized the way Orleans sends it: the tree (33 nodes, tokens and parents,
/// and the path probabilities goodput trimming prices it by: one byte per node, measured with and without), the verdict (4 tokens, with the silo's timing breakdown as the benchmark's silos send it), and the signed edge
/// credential that travels in the request context of every call the edge makes. What the proxy counts beyond these per
/// step is Orleans' message envelope, TLS framing, keep-alives and each reply's few set-up calls.
/// </summary>
public static class StepPayload
{
    public sealed record Sizes(int TreeBytes, int VerdictBytes, int CredentialBytes, int TreeBytesWithoutConfidence);

    public static Sizes Measure(IServiceProvider services, ProcessCluster cluster)
    {
        var serializer = services.GetRequiredService<Serializer>();
        string session = AccessCredential.TenantPrefix(ProcessCluster.Tenant) + "c12-p1-3";
        var tree = new TreeSubmission(session, "c12-p1-edge-3", 17, 96,
            Enumerable.Range(0, 33).Select(i => 1000 + 37 * i).ToArray(), Enumerable.Range(0, 33).Select(i => i == 0 ? -1 : (i - 1) / 4).ToArray(),
            Enumerable.Range(0, 33).Select(i => (byte)Math.Min(255, 6 * i)).ToArray());
        var verdict = new StepVerdict(session, 17, new[] { 1041, 1115, 1189, 1263 }, false, null, 21.5, 4, 1, new StepTiming(1764600000000000, 8100, 21500, 60, 30300));
        string credential = cluster.Issue(new AccessCredential
        {
            Role = CredentialRole.Edge, Tenant = ProcessCluster.Tenant, ConversationId = session, EdgeId = "c12-p1-edge-3",
        });
        return new Sizes(serializer.SerializeToArray(tree).Length, serializer.SerializeToArray(verdict).Length, Encoding.UTF8.GetByteCount(credential),
            serializer.SerializeToArray(tree with { Confidence = null }).Length);
    }
}
