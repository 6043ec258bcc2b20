namespace SpecEdge.EdgeClient;

/// <summary>How trees travel to the session: pushed on the Orleans broadcast channel (default) or as a direct grain call.</summary>
public enum TreeTransport { Channel, DirectCall }
