using System.Diagnostics;

namespace SpecEdge.Cluster.Tests.Deployment;

/// <summary>
/// Network namespaces on one machine, each with its own address on a private bridge (10.231.N.0/24), so processes in
/// them are "machines" to each other: a silo there cannot reach another through loopback, and must advertise its own
/// address. The bridge end (10.231.N.1) stays in this namespace for services the test runs itself (Azurite) and for
/// clients. Needs root (CAP_NET_ADMIN); <see cref="TryCreate"/> says why not where that is missing. Removed on dispose.
/// </summary>
public sealed class NetworkNamespaces : IDisposable
{
    private readonly string _id = Guid.NewGuid().ToString("N")[..5];
    private readonly List<string> _namespaces = new();
    private readonly int _subnet = Random.Shared.Next(10, 250);

    private string Bridge => $"sebr{_id}";

    /// <summary>This namespace's address on the bridge.</summary>
    public string HostAddress => $"10.231.{_subnet}.1";

    /// <summary>Namespace name and address, in creation order.</summary>
    public IReadOnlyList<(string Name, string Address)> Members => _namespaces.Select((n, i) => (n, $"10.231.{_subnet}.{i + 2}")).ToList();

    /// <summary>A bridge plus <paramref name="count"/> namespaces, or null and the reason this machine cannot have them.</summary>
    public static NetworkNamespaces? TryCreate(int count, out string? whyNot)
    {
        whyNot = null;
        if (!OperatingSystem.IsLinux()) { whyNot = "network namespaces are a Linux feature"; return null; }
        if (Environment.UserName != "root" && Run("id", "-u").Output.Trim() != "0") { whyNot = "creating network namespaces needs root (CAP_NET_ADMIN)"; return null; }
        if (!File.Exists("/usr/sbin/ip") && !File.Exists("/sbin/ip") && !File.Exists("/usr/bin/ip")) { whyNot = "the ip command (iproute2) is not installed"; return null; }
        var created = new NetworkNamespaces();
        try
        {
            created.Create(count);
            return created;
        }
        catch (InvalidOperationException e)
        {
            created.Dispose();
            whyNot = "this machine refused to create network namespaces: " + e.Message;
            return null;
        }
    }

    private void Create(int count)
    {
        Ip($"link add {Bridge} type bridge");
        Ip($"addr add {HostAddress}/24 dev {Bridge}");
        Ip($"link set {Bridge} up");
        for (int i = 0; i < count; i++)
        {
            string ns = $"se{_id}{(char)('a' + i)}", outside = $"sv{_id}{(char)('a' + i)}", inside = $"sp{_id}{(char)('a' + i)}";
            Ip($"netns add {ns}");
            _namespaces.Add(ns);
            Ip($"link add {outside} type veth peer name {inside}");
            Ip($"link set {outside} master {Bridge} up");
            Ip($"link set {inside} netns {ns}");
            Ip($"netns exec {ns} ip addr add {Members[i].Address}/24 dev {inside}");
            Ip($"netns exec {ns} ip link set {inside} up");
            Ip($"netns exec {ns} ip link set lo up");
        }
    }

    /// <summary>Arguments that run <paramref name="program"/> inside namespace <paramref name="ns"/> with extra environment.</summary>
    public static string[] Exec(string ns, IReadOnlyDictionary<string, string> environment, string program) =>
        ["netns", "exec", ns, "env", .. environment.Select(kv => $"{kv.Key}={kv.Value}"), program];

    public void Dispose()
    {
        foreach (var ns in _namespaces) Run("ip", $"netns del {ns}");
        Run("ip", $"link del {Bridge}");
    }

    private static void Ip(string arguments)
    {
        var (code, output) = Run("ip", arguments);
        if (code != 0) throw new InvalidOperationException($"ip {arguments}: {output.Trim()}");
    }

    private static (int Code, string Output) Run(string file, string arguments)
    {
        var start = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr);
    }
}
