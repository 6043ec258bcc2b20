namespace SpecEdge.Grains.Security;

/// <summary>What kind of thing a call reaches, as far as the call policy cares.</summary>
public enum CallTargetKind
{
    /// <summary>A method of ISessionGrain.</summary>
    Session,
    /// <summary>The broadcast channel's consumer extension on a session: a tree published by an edge.</summary>
    SessionTreeChannel,
    /// <summary>The IAsyncEnumerable extension on a session: pulling reply chunks of StreamReplyAsync.</summary>
    SessionReplyStream,
    /// <summary>ICredentialIssuerGrain.</summary>
    CredentialIssuer,
    /// <summary>An Orleans system target that clients need to work (the cluster manifest).</summary>
    ClientSystemTarget,
    /// <summary>Everything else: verifiers, the management grain, other system targets, other grain extensions.</summary>
    Other,
}

/// <summary>A call reduced to what the policy decides on: the kind of target, the conversation it addresses, the method.</summary>
public readonly record struct CallTarget(CallTargetKind Kind, string? ConversationId, string Method);
