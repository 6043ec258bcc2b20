namespace SpecEdge.Contracts.Security;

/// <summary>Who a credential speaks for; the silo's call policy decides what each may call.</summary>
public enum CredentialRole
{
    /// <summary>An edge host: one conversation, one edge id, a short expiry. Untrusted (it runs on a gamer PC).</summary>
    Edge = 0,
    /// <summary>A backend service of one tenant: creates and drives that tenant's conversations, issues edge credentials.</summary>
    Service = 1,
    /// <summary>The people who run the cluster: statistics, the management grain, silo names, every conversation.</summary>
    Operator = 2,
    /// <summary>A silo of this cluster: only silos hold the signing key, so only they can mint it.</summary>
    Silo = 3,
}
