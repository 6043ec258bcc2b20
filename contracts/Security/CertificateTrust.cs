using System.Security.Cryptography.X509Certificates;

namespace SpecEdge.Contracts.Security;

/// <summary>
/// Certificate checks shared by silos and edge hosts: a certificate is trusted when it chains to one given CA (the
/// operator's cluster CA or edge CA), not to whatever the machine's store trusts. Host names are not checked: silos
/// move between addresses, and what identifies them is the CA that issued their certificate.
/// </summary>
public static class CertificateTrust
{
    public static bool IsIssuedBy(X509Certificate2 certificate, X509Certificate2 authority)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority);
        // Revocation is our own list (thumbprints/serials, reloaded from a file), not CRL/OCSP endpoints.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (!chain.Build(certificate)) return false;
        var root = chain.ChainElements[^1].Certificate;
        return root.RawDataMemory.Span.SequenceEqual(authority.RawDataMemory.Span);
    }

    /// <summary>A PEM certificate (a CA) or a PKCS#12 file with its private key (a silo's or an edge's own).</summary>
    public static X509Certificate2 Load(string path) =>
        path.EndsWith(".pem", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".crt", StringComparison.OrdinalIgnoreCase)
            ? X509CertificateLoader.LoadCertificateFromFile(path)
            : X509CertificateLoader.LoadPkcs12FromFile(path, password: null);
}
