using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SpecEdge.Contracts.Security;
using SpecEdge.EdgeClient;
using System.Security.Cryptography.X509Certificates;

namespace SpecEdge.TestSupport;

/// <summary>
/// A cluster of real processes on this machine, as deployed: redis-server (membership), Azurite (session state), silo
/// executables with the target, and processes of many emulated edges (tests/SpecEdge.EdgeLoad, soak or bench mode). Knows how to kill and restart them, and
/// how to connect a driver. The soak and the e2e benchmark both build on it.
/// Secured as in production: silos hold a signing key file and cluster-CA certificates; the driver is an operator with
/// a cluster-CA certificate (the only kind the Orleans gateway takes); each edge process holds a service credential of
/// tenant <see cref="Tenant"/>, with which it enrols its conversations' edges over HTTP, and an edge-CA certificate for
/// the edge gateway.
/// </summary>
public sealed class ProcessCluster : IDisposable
{
    private readonly string _root, _siloExe, _edgeExe, _target, _draft;
    private readonly AzuriteFixture _azurite;
    private readonly ExternalProcess _redis;
    private readonly int _kvMb, _maxNewTokens, _edgeSessions;
    private readonly string _security;
    private readonly SigningKeySet _keys;
    private readonly X509Certificate2 _clusterCa, _edgeCa;
    private readonly string _keyFile, _clusterCaPem, _edgeCaPem;
    /// <summary>The tenant of the honest services and edges: their conversation ids start with "soak/".</summary>
    public const string Tenant = "soak";
    public Dictionary<string, ExternalProcess> Silos { get; } = new();
    public Dictionary<string, int> Gateways { get; } = new();
    /// <summary>Each silo's edge gateway port (gRPC, TLS with edge-CA client certificates): what the soak's edges use.</summary>
    public Dictionary<string, int> EdgeGateways { get; } = new();
    /// <summary>Each silo's HTTP port (OpenAI API, edge enrolment, health).</summary>
    public Dictionary<string, int> HttpPorts { get; } = new();
    public Dictionary<string, ExternalProcess> Edges { get; } = new();
    private readonly List<ExternalProcess> _all = new();
    /// <summary>The gateway every client of the run uses: silo-a's, which the chaos never kills (the gateway of a
    /// killed silo stays in a client's list until membership drops it, and calls routed there fail meanwhile).</summary>
    public int ClientGateway => Gateways["silo-a"];
    public string RedisConnection { get; }
    public string ClusterId { get; } = "soak-" + Guid.NewGuid().ToString("N")[..8];
    /// <summary>Every line the edge processes printed, with the process name (restarts included).</summary>
    public List<string> EdgeLines { get; } = new();

    public ProcessCluster(string root, string target, string draft, int kvMb, int maxNewTokens, int edgeSessions)
    {
        _root = root; _target = target; _draft = draft; _kvMb = kvMb; _maxNewTokens = maxNewTokens; _edgeSessions = edgeSessions;
        string configuration = AppContext.BaseDirectory.Contains("/Release/") ? "Release" : "Debug";
        _siloExe = Path.Combine(root, "silo", "bin", configuration, "net10.0", "linux-x64", "SpecEdge.Silo");
        _edgeExe = Path.Combine(root, "tests", "SpecEdge.EdgeLoad", "bin", configuration, "net10.0", "linux-x64", "SpecEdge.EdgeLoad");
        foreach (var exe in new[] { _siloExe, _edgeExe })
            if (!File.Exists(exe)) throw new FileNotFoundException($"{exe} is missing: build the solution first (dotnet build -c {configuration}).");
        string redisServer = new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("redis-server is not installed: apt-get install -y redis-server (infra/test.sh does it).");
        _azurite = new AzuriteFixture("127.0.0.1", onDisk: true);   // a long run outgrows the in-memory store between its clean-ups
        int redisPort = ExternalProcess.FreePort();
        _redis = new ExternalProcess("redis", redisServer, new[] { "--port", redisPort.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no" }, Path.GetTempPath());
        RedisConnection = $"127.0.0.1:{redisPort}";
        _redis.WaitForPortAsync(redisPort, TimeSpan.FromSeconds(20)).GetAwaiter().GetResult();

        _security = Directory.CreateTempSubdirectory("specedge-soak-security-").FullName;
        _keys = SigningKeySet.CreateRandom();
        _keyFile = Path.Combine(_security, "keys.json");
        File.WriteAllText(_keyFile, "{\"activeKeyId\": \"k1\", \"keys\": {\"k1\": \"" + Convert.ToBase64String(_keys.ActiveKey) + "\"}}");
        _clusterCa = TestCertificates.Authority("soak cluster CA");
        _edgeCa = TestCertificates.Authority("soak edge CA");
        _clusterCaPem = TestCertificates.WritePem(_clusterCa, Path.Combine(_security, "cluster-ca.pem"));
        _edgeCaPem = TestCertificates.WritePem(_edgeCa, Path.Combine(_security, "edge-ca.pem"));
    }

    /// <summary>A credential signed with the run's key, valid for two hours.</summary>
    public string Issue(AccessCredential claims) =>
        CredentialCodec.Sign(claims with { ExpiresAt = DateTimeOffset.UtcNow.AddHours(2).ToUnixTimeSeconds() }, _keys);

    public string OperatorToken => Issue(new AccessCredential { Role = CredentialRole.Operator });
    public string ServiceToken(string tenant) => Issue(new AccessCredential { Role = CredentialRole.Service, Tenant = tenant });

    /// <summary>TLS settings of a client enrolled with the edge CA (a fresh certificate per call).</summary>
    public EdgeTlsOptions ClientTls(string name) => new()
    {
        CertificateFile = TestCertificates.WritePkcs12(TestCertificates.Issue(_edgeCa, name), Path.Combine(_security, $"{name}.pfx")),
        ClusterCaFile = _clusterCaPem,
    };

    /// <summary>
    /// TLS settings of a trusted Orleans client (the driver, operator-run edges): a certificate from the cluster CA, the
    /// only kind the Orleans gateway accepts.
    /// </summary>
    public EdgeTlsOptions OperatorTls(string name) => new()
    {
        CertificateFile = TestCertificates.WritePkcs12(TestCertificates.Issue(_clusterCa, name), Path.Combine(_security, $"{name}.pfx")),
        ClusterCaFile = _clusterCaPem,
    };

    /// <summary>
    /// Starts a silo process. <paramref name="clusterId"/>: a cluster of its own (default: the run's); <paramref name="extra"/>:
    /// further settings (they override the ones here, e.g. <c>--SpecEdge:ServerDraftModel DIR</c>).
    /// </summary>
    public Task StartSiloAsync(string name, string? clusterId = null, params string[] extra) => StartSiloAsync(name, clusterId, null, extra);

    /// <summary>
    /// As above; with <paramref name="gatewayListenPort"/> the gateway binds that port while clients are given
    /// <see cref="Gateways"/>[name] (where a proxy in front of it listens, e.g. an emulated WAN link).
    /// </summary>
    public async Task StartSiloAsync(string name, string? clusterId, int? gatewayListenPort, params string[] extra)
    {
        clusterId ??= ClusterId;
        int gateway = ExternalProcess.FreePort();
        if (gatewayListenPort is int listen) extra = extra.Concat(new[] { "--Cluster:GatewayListenPort", listen.ToString() }).ToArray();
        Gateways[name] = gateway;
        EdgeGateways[name] = ExternalProcess.FreePort();
        HttpPorts[name] = ExternalProcess.FreePort();
        Silos[name] = new ExternalProcess(name, _siloExe, new[]
        {
            "--Gateway:Port", EdgeGateways[name].ToString(),
            "--SpecEdge:TargetModel", _target, "--SpecEdge:Threads", "1", "--SpecEdge:KvMemoryMb", _kvMb.ToString(),
            "--SpecEdge:EdgeLeaseSeconds", "2",
            // The honest tenant runs every session of the soak: its reply quota is not what the run measures (the KV
            // budget's admission is); the hostile tenant stays under the same quota.
            "--SpecEdge:MaxActiveRepliesPerTenant", "256",
            "--Cluster:Clustering", "redis", "--Cluster:RedisConnectionString", RedisConnection, "--Cluster:AdvertisedAddress", "127.0.0.1",
            "--Cluster:ClusterId", clusterId, "--Cluster:ServiceId", clusterId, "--Cluster:SiloName", name,
            "--Cluster:SiloPort", ExternalProcess.FreePort().ToString(), "--Cluster:GatewayPort", gateway.ToString(),
            "--Cluster:StorageConnectionString", _azurite.ConnectionString, "--Cluster:StorageContainer", clusterId,
            "--Cluster:FailureDetectionSeconds", "2", "--Security:KeyFile", _keyFile, "--urls", $"http://127.0.0.1:{HttpPorts[name]}",
            "--Tls:CertificateFile", TestCertificates.WritePkcs12(TestCertificates.Issue(_clusterCa, name), Path.Combine(_security, $"{name}.pfx")),
            "--Tls:ClusterCaFile", _clusterCaPem, "--Tls:EdgeCaFile", _edgeCaPem,
        }.Concat(extra), _root);
        _all.Add(Silos[name]);
        await Silos[name].WaitForPortAsync(gatewayListenPort ?? gateway, TimeSpan.FromSeconds(120));
    }

    /// <summary>Starts (or restarts after a kill) an edge load process running <c>--soak</c> sessions named by <paramref name="name"/>.</summary>
    public void StartEdge(string name)
    {
        // Honest edges enrol over the silos' HTTP API and chat and draft over their edge gateways: no Orleans connection.
        Edges[name] = StartEdgeProcess(name, ClientGateway, ClusterId, new[]
        {
            "--soak", _edgeSessions.ToString(), "--soak-prefix", AccessCredential.TenantPrefix(Tenant) + name,
            "--max-new-tokens", _maxNewTokens.ToString(), "--budget", "16", "--proactive", "true",
        }, line => { lock (EdgeLines) EdgeLines.Add(line); }, edgeGateway: EdgeGatewayUrls, enrolUrl: HttpUrls);
    }

    /// <summary>Every silo's edge gateway, as an edge is given them (<c>--edge-gateway</c>).</summary>
    public string EdgeGatewayUrls => string.Join(",", EdgeGateways.Values.Select(p => $"https://127.0.0.1:{p}"));
    /// <summary>Every silo's HTTP API (<c>--enrol-url</c>).</summary>
    public string HttpUrls => string.Join(",", HttpPorts.Values.Select(p => $"http://127.0.0.1:{p}"));

    /// <summary>
    /// Starts an edge load process of tenant <see cref="Tenant"/> (service credential) in the mode <paramref name="modeArgs"/>
    /// choose. With <paramref name="edgeGateway"/> it is an untrusted edge: an edge-CA certificate, edges enrolled over
    /// HTTP at <paramref name="enrolUrl"/>, trees and chat over the edge gateway, no Orleans connection. Without, it is
    /// an operator-run edge: a cluster-CA certificate and an Orleans connection to the gateway at
    /// <paramref name="gatewayPort"/> of cluster <paramref name="clusterId"/> (the Orleans port takes no edge certificate).
    /// </summary>
    /// <param name="nice">Above 0: the process runs at that Linux niceness (every thread of it, set before it starts), so
    /// that on a shared machine its drafting yields the cores to the silo, as edges on their own GPUs would.</param>
    public ExternalProcess StartEdgeProcess(string name, int gatewayPort, string clusterId, IEnumerable<string> modeArgs, Action<string>? onLine = null, int nice = 0,
        string? edgeGateway = null, string? enrolUrl = null)
    {
        string credential = Path.Combine(_security, $"{name}.credential");
        File.WriteAllText(credential, ServiceToken(Tenant));
        var tls = edgeGateway is null ? OperatorTls(name) : ClientTls(name);
        var transport = edgeGateway is null
            ? new[] { "--edge-gateway", "off", "--gateways", $"127.0.0.1:{gatewayPort}", "--Edge:ClusterId", clusterId, "--Edge:ServiceId", clusterId }
            : new[] { "--edge-gateway", edgeGateway, "--enrol-url", enrolUrl ?? throw new ArgumentNullException(nameof(enrolUrl)) };
        var arguments = transport.Concat(new[]
        {
            "--credential-file", credential, "--certificate", tls.CertificateFile!, "--cluster-ca", tls.ClusterCaFile!,
            "--draft", _draft,
        }).Concat(modeArgs);
        var process = nice > 0
            ? new ExternalProcess(name, "nice", new[] { "-n", nice.ToString(), _edgeExe }.Concat(arguments), _root, onLine)
            : new ExternalProcess(name, _edgeExe, arguments, _root, onLine);
        _all.Add(process);
        return process;
    }

    /// <summary>Writes every process's output (restarted ones too) to <paramref name="directory"/>, for the post-mortem.</summary>
    public void SaveLogs(string directory)
    {
        Directory.CreateDirectory(directory);
        for (int i = 0; i < _all.Count; i++) File.WriteAllText(Path.Combine(directory, $"{i:D2}-{_all[i].Name}.log"), _all[i].Output);
    }

    /// <summary>Resident-set high-water mark of a live process (VmHWM), in MiB; 0 once it has exited.</summary>
    public static double HighWaterMiB(ExternalProcess process)
    {
        try
        {
            string status = File.ReadAllText($"/proc/{process.ProcessId}/status");
            var line = status.Split('\n').FirstOrDefault(l => l.StartsWith("VmHWM:"));
            return line is null ? 0 : double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024;
        }
        catch (IOException) { return 0; }
    }

    /// <summary>An Orleans client of this cluster as its operator (cluster-CA certificate), through <paramref name="gatewayPort"/> (default: <see cref="ClientGateway"/>).</summary>
    public async Task<IHost> ConnectAsync(int? gatewayPort = null, string? clusterId = null)
    {
        gatewayPort ??= ClientGateway;
        clusterId ??= ClusterId;
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleansClient(c =>
        {
            c.Configure<Orleans.Configuration.ClusterOptions>(o => { o.ClusterId = clusterId; o.ServiceId = clusterId; });
            c.UseStaticClustering(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, gatewayPort.Value));
            // ChatAsync answers when its whole reply is done, which under a 100-session load takes more than 10 s.
            c.Configure<Orleans.Configuration.ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(30));
            c.AddBroadcastChannel(SpecEdge.Contracts.ChannelNames.Provider);
            c.AddSpecEdgeCredential(o => o.Token = OperatorToken);
            c.UseSpecEdgeTls(OperatorTls("soak-driver"));
        });
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    /// <summary>The repository's root (where SpecEdge.Orleans.sln is), from the working directory or else this program's.</summary>
    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SpecEdge.Orleans.sln"))) return dir.FullName;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SpecEdge.Orleans.sln"))) return dir.FullName;
        throw new InvalidOperationException("Run from inside the repository (SpecEdge.Orleans.sln not found).");
    }

    public void Dispose()
    {
        foreach (var e in Edges.Values) e.Dispose();
        foreach (var s in Silos.Values) s.Dispose();
        _redis.Dispose();
        _azurite.Dispose();
        try { Directory.Delete(_security, recursive: true); } catch (IOException) { }
    }
}
