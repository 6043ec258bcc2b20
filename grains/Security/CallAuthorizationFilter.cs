using Microsoft.Extensions.Logging;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;

namespace SpecEdge.Grains.Security;

/// <summary>
/// Silo side, before any grain code runs: reads the credential from <c>RequestContext</c>, verifies it (cached), asks
/// <see cref="CallPolicy"/> whether that role may make this call, and makes the identity available to the grain through
/// <see cref="VerifiedCaller"/>. Calls between silos pass because <see cref="SiloCredentialOutgoingFilter"/> stamps
/// every silo's outgoing call with a silo credential; a client cannot tell the silo apart from a client by any header it
/// could forge (the sending grain id is the client's to choose), so the credential is what proves it.
/// </summary>
public sealed class CallAuthorizationFilter(VerifiedCredentials credentials, EdgeCallRateLimiter edgeRate, RefusalLog refusals, ILogger<CallAuthorizationFilter> logger) : IIncomingGrainCallFilter
{
    /// <summary>Client-side system targets clients cannot work without; they expose no conversation data.</summary>
    private static readonly HashSet<string> ClientSystemTargets = new(StringComparer.Ordinal)
    {
        "Orleans.Runtime.IClusterManifestSystemTarget",
    };

    private const string BroadcastConsumerExtension = "Orleans.BroadcastChannel.IBroadcastChannelConsumerExtension";

    /// <summary>
    /// Grain timer ticks reach the grain as local messages through the same filters. Their invokable type has no
    /// serializer, so no message from outside the silo can carry one: the concrete type proves the tick is local.
    /// </summary>
    private const string TimerTick = "Orleans.Runtime.GrainTimer+TimerTickInvoker";

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        if (context.Request.GetType().FullName == TimerTick)
        {
            await context.Invoke();
            return;
        }
        var target = Describe(context);
        var token = RequestContext.Get(CallerCredential.RequestContextKey) as string;
        if (target.Kind == CallTargetKind.ClientSystemTarget)
        {
            // Open to anyone who reached the gateway (TLS decides who that is); a bad credential shows up on its first real call.
            await context.Invoke();
            return;
        }
        if (!credentials.TryVerify(token, out var credential, out var error)) Deny(context, target, "unverified caller", error);
        // An edge pays for every call it makes, refused ones included: a flood of calls the policy refuses is metered
        // like any other flood, and refused by the limit before the policy is even asked.
        if (credential!.Role == CredentialRole.Edge && !edgeRate.TryTake(credential))
        {
            string limited = $"Too many calls from this edge: at most {edgeRate.CallsPerSecond:G} a second (Security:MaxEdgeCallsPerSecond); slow down.";
            refusals.Refused(CallerName(credential), $"{context.InterfaceName}.{context.MethodName}", limited);
            throw new InvalidOperationException(limited);
        }
        if (CallPolicy.Check(credential, target) is { } reason) Deny(context, target, CallerName(credential), reason);

        VerifiedCaller.Set(credential);
        if (credential!.Role != CredentialRole.Edge)
        {
            await context.Invoke();
            return;
        }
        try
        {
            await context.Invoke();
        }
        catch (Exception e) when (!IsSafeForEdges(e))
        {
            // Runtime exceptions can name silos, addresses or other activations; an edge learns only that the call failed.
            logger.LogInformation(e, "Call {Interface}.{Method} from an edge failed; the edge gets a generic error", context.InterfaceName, context.MethodName);
            throw new InvalidOperationException("The request failed on the server; try again.");
        }
    }

    private void Deny(IIncomingGrainCallContext context, CallTarget target, string caller, string reason)
    {
        // The log names the target for the operator, once per caller per interval; the caller hears only about its own
        // credential or the kind of call.
        refusals.Refused(caller, $"{context.InterfaceName}.{context.MethodName} on {context.TargetId} ({target.Kind})", reason);
        throw new AccessDeniedException(reason);
    }

    /// <summary>The caller as its verified credential names it: what refusals are counted and logged under.</summary>
    public static string CallerName(AccessCredential credential) => credential.Role switch
    {
        CredentialRole.Edge => $"edge {credential.EdgeId} of {credential.ConversationId}",
        CredentialRole.Service => $"service of tenant {credential.Tenant}",
        _ => credential.Role.ToString().ToLowerInvariant(),
    };

    /// <summary>Our own validation errors describe only the caller's conversation and request.</summary>
    private static bool IsSafeForEdges(Exception e) =>
        e is ArgumentException or InvalidOperationException or TimeoutException or AccessDeniedException;

    private static CallTarget Describe(IIncomingGrainCallContext context)
    {
        var request = context.Request;
        var iface = request.GetInterfaceType();
        string method = request.GetMethodName();
        if (context.TargetId.IsSystemTarget())
            return new CallTarget(ClientSystemTargets.Contains(iface.FullName ?? "") ? CallTargetKind.ClientSystemTarget : CallTargetKind.Other, null, method);
        if (iface == typeof(ICredentialIssuerGrain)) return new CallTarget(CallTargetKind.CredentialIssuer, null, method);
        if (context.TargetContext.GrainInstance is not ISessionGrain) return new CallTarget(CallTargetKind.Other, null, method);

        string conversation = context.TargetId.Key.ToString()!;
        if (iface == typeof(ISessionGrain)) return new CallTarget(CallTargetKind.Session, conversation, method);
        if (iface.FullName == BroadcastConsumerExtension && method == "OnPublished")
            return new CallTarget(CallTargetKind.SessionTreeChannel, conversation, method);
        if (iface == typeof(IAsyncEnumerableGrainExtension))
        {
            // StartEnumeration carries the grain method to enumerate: only StreamReplyAsync is a reply stream.
            // MoveNext/DisposeAsync only continue an enumeration of this same grain.
            bool isReplyStream = method != "StartEnumeration"
                || (request.GetArgumentCount() > 1 && request.GetArgument(1) is Orleans.Serialization.Invocation.IInvokable inner
                    && inner.GetInterfaceType() == typeof(ISessionGrain) && inner.GetMethodName() == nameof(ISessionGrain.StreamReplyAsync));
            return new CallTarget(isReplyStream ? CallTargetKind.SessionReplyStream : CallTargetKind.Other, conversation, method);
        }
        return new CallTarget(CallTargetKind.Other, conversation, method);
    }
}
