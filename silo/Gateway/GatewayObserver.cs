using System.Threading.Channels;
using SpecEdge.Contracts;
using SpecEdge.Gateway.V1;
using TurnStarted = SpecEdge.Contracts.TurnStarted;

namespace SpecEdge.Silo.Gateway;

/// <summary>
/// The session's one-way notifications for an edge on the gateway (a turn started, a step rolled back), turned into
/// messages on the edge's stream. It lives in the silo: the edge holds no Orleans connection, so nothing it sends can
/// pose as a response to anyone's call.
/// </summary>
internal sealed class GatewayObserver(ChannelWriter<ServerMessage> outbox) : IEdgeObserver
{
    // Verdicts come back as the responses of the gateway's own calls; a pushed one is not for this stream.
    public Task OnVerdict(StepVerdict verdict) => Task.CompletedTask;

    public Task OnRejected(TreeRejection rejection)
    {
        outbox.TryWrite(new ServerMessage { Rejection = new Rejection { Step = rejection.Step, Error = rejection.Error, Resync = true } });
        return Task.CompletedTask;
    }

    /// <summary>An early verdict goes out at once: its worth is in arriving before the step's verdict.</summary>
    public Task OnEarlyVerdict(EarlyStepVerdict verdict)
    {
        var message = new EarlyVerdict { Step = verdict.Step };
        message.AcceptedTokens.Add(verdict.AcceptedTokens);
        outbox.TryWrite(new ServerMessage { EarlyVerdict = message });
        return Task.CompletedTask;
    }

    public Task OnTurnStarted(TurnStarted turn)
    {
        outbox.TryWrite(new ServerMessage { TurnStarted = ToWire(turn) });
        return Task.CompletedTask;
    }

    /// <summary>A started turn as the gateway sends it (the answer to the edge's own message, or this notification).</summary>
    public static SpecEdge.Gateway.V1.TurnStarted ToWire(TurnStarted turn)
    {
        var message = new SpecEdge.Gateway.V1.TurnStarted { CommittedLength = turn.CommittedLength, Step = turn.Step, CachedTokens = turn.CachedTokens, Finished = turn.Finished };
        message.AppendedTokens.Add(turn.AppendedTokens);
        message.FirstTokens.Add(turn.FirstTokens ?? []);
        return message;
    }
}
