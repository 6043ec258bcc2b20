namespace SpecEdge.Contracts;

/// <summary>Names shared by the cluster and its clients for the push transport of draft trees.</summary>
public static class ChannelNames
{
    /// <summary>Broadcast channel provider that carries trees from edge hosts to session grains.</summary>
    public const string Provider = "drafts";
    /// <summary>Channel namespace; the channel key is the session id, so each tree lands on its session grain.</summary>
    public const string TreeNamespace = "trees";
}
