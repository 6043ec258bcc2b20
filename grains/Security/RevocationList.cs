using System.Security.Cryptography.X509Certificates;

namespace SpecEdge.Grains.Security;

/// <summary>
/// Withdrawn edge certificates: a text file with one SHA-1 thumbprint or serial number (hex) per line, '#' comments.
/// Re-read whenever the file changes, so an operator withdraws an edge by editing the file, without a restart; a
/// withdrawn edge's next connection attempt fails its TLS handshake.
/// </summary>
public sealed class RevocationList(string? path)
{
    private readonly object _gate = new();
    private HashSet<string> _entries = new(StringComparer.OrdinalIgnoreCase);
    private DateTime _stamp;

    public bool IsRevoked(X509Certificate2 certificate)
    {
        var entries = Current();
        return entries.Contains(certificate.Thumbprint) || entries.Contains(certificate.SerialNumber);
    }

    private HashSet<string> Current()
    {
        if (path is null || !File.Exists(path)) return _entries;
        lock (_gate)
        {
            var stamp = File.GetLastWriteTimeUtc(path);
            if (stamp != _stamp)
            {
                _entries = File.ReadAllLines(path).Select(l => l.Split('#')[0].Trim().Replace(":", ""))
                    .Where(l => l.Length > 0).ToHashSet(StringComparer.OrdinalIgnoreCase);
                _stamp = stamp;
            }
            return _entries;
        }
    }
}
