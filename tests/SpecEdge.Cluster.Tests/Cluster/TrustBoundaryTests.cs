using System.Text;
using System.Text.Json;
using Orleans.BroadcastChannel;
using Orleans.Core.Internal;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using SpecEdge.Grains.Verification;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// An enrolled edge is untrusted: with a valid credential for its own conversation it can reach nothing else, and
/// bad credentials reach nothing at all. Every attack is followed by a check that the victim's reply is still exactly
/// the target's greedy output. Each refusal has a control (the same call with the right credential succeeds).
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Kind", "cluster")]
public class TrustBoundaryTests(ClusterFixture f)
{
    private static string NewId(string tenant, string name) => $"{tenant}/{name}-{Guid.NewGuid():N}"[..(tenant.Length + name.Length + 10)];

    private static async Task<T> As<T>(string token, Func<Task<T>> call)
    {
        using (CallerCredential.Use(token)) return await call();
    }

    private static async Task As(string token, Func<Task> call)
    {
        using (CallerCredential.Use(token)) await call();
    }

    private static async Task<AccessDeniedException> Refused(string token, Func<Task> call) =>
        await As(token, () => Assert.ThrowsAsync<AccessDeniedException>(call));

    /// <summary>Runs one reply of <paramref name="victimId"/> as its own service and checks it equals the target's greedy output.</summary>
    private async Task AssertVictimRepliesGreedilyAsync(string victimId, string serviceToken, int prompt = 2)
    {
        var victim = f.Client.GetGrain<ISessionGrain>(victimId);
        var reply = new List<int>();
        var turn = await As(serviceToken, async () =>
        {
            await victim.ConfigureAsync(SessionTestHelpers.Greedy(12));
            var started = await victim.SendUserMessageAsync(SessionTestHelpers.Prompts[prompt]);
            await foreach (var chunk in victim.StreamReplyAsync()) reply.AddRange(chunk.Tokens);
            return started;
        });
        Assert.Equal(turn.CommittedLength, turn.AppendedTokens.Length);   // a fresh conversation: the turn is the whole prompt
        Assert.Equal(f.ReferenceGreedy(turn.AppendedTokens, 12), reply.ToArray());
    }

    [Fact]
    public async Task EdgeOfConversationA_CannotRead_Attach_Write_Configure_Submit_OrPublish_ToConversationB()
    {
        string own = NewId("tenant-a", "own"), victimId = NewId("tenant-b", "victim");
        string attacker = f.EdgeToken(own, "edge-a", chat: true), service = f.ServiceToken("tenant-b");
        string legitimate = f.EdgeToken(victimId, "edge-b");
        var victim = f.Client.GetGrain<ISessionGrain>(victimId);
        var observer = f.Client.CreateObjectReference<IEdgeObserver>(new NullEdgeObserver());

        // Control: the attacker's credential works on its own conversation.
        Assert.Equal(own, (await As(attacker, () => f.Client.GetGrain<ISessionGrain>(own).GetAsync())).SessionId);

        // The victim has a reply in progress and its own edge attached, which sends nothing (so the step waits for a tree).
        await As(service, () => victim.ConfigureAsync(SessionTestHelpers.Greedy(12)));
        await As(legitimate, () => victim.AttachEdgeAsync("edge-b", observer));
        var turn = await As(service, () => victim.SendUserMessageAsync(SessionTestHelpers.Prompts[3]));
        var attachment = await As(legitimate, () => victim.AttachEdgeAsync("edge-b", observer));
        var validTree = new TreeSubmission(victimId, "edge-b", attachment.Step, attachment.Committed.Length, new[] { attachment.Committed[^1], 5 }, new[] { -1, 0 });

        var attacks = new (string What, Func<Task> Call)[]
        {
            ("read", () => victim.GetAsync()),
            ("attach", () => victim.AttachEdgeAsync("edge-b", observer)),
            ("detach", () => victim.DetachEdgeAsync("edge-b")),
            ("write", () => victim.SendUserMessageAsync("injected")),
            ("chat", () => victim.ChatAsync("injected")),
            ("configure", () => victim.ConfigureAsync(SessionTestHelpers.Greedy(1))),
            ("submit", () => victim.SubmitTreeAsync(validTree)),
            ("stream", async () => { await foreach (var _ in victim.StreamReplyAsync()) { } }),
        };
        foreach (var (what, call) in attacks)
        {
            var e = await Refused(attacker, call);
            Assert.Contains("another conversation", e.Message);
            Assert.DoesNotContain(victimId, e.Message);
        }

        // Publishing on B's channel is fire-and-forget: the proof is that B's step did not move.
        var writer = f.Client.GetBroadcastChannelProvider(ChannelNames.Provider)
            .GetChannelWriter<TreeSubmission>(ChannelId.Create(ChannelNames.TreeNamespace, victimId));
        await As(attacker, () => writer.Publish(validTree));
        await Task.Delay(300);
        var after = await As(service, () => victim.GetAsync());
        Assert.Equal(attachment.Step, after.Step);
        Assert.Equal(attachment.Committed.Length, after.CommittedTokens);

        // Control: the same tree from the victim's own edge is verified (so the refusals above were the policy's doing).
        var verdict = await As(legitimate, () => victim.SubmitTreeAsync(validTree));
        Assert.Equal(attachment.Step, verdict.Step);

        // The victim's edge goes quiet; after its lease the server finishes the reply: the target's greedy text.
        // (The stream from chunk 0 holds the whole reply, the verified step included.)
        var reply = new List<int>();
        await As(service, async () => { await foreach (var chunk in victim.StreamReplyAsync()) reply.AddRange(chunk.Tokens); });
        Assert.Equal(f.ReferenceGreedy(turn.AppendedTokens, 12), reply.ToArray());
    }

    [Fact]
    public async Task ForgedEdgeIdInATree_ChangesNothing()
    {
        // Two edges enrolled in one conversation: edge-1 is attached, edge-2 forges edge-1's id in its trees.
        string id = NewId("tenant-a", "shared");
        string honest = f.EdgeToken(id, "edge-1"), forger = f.EdgeToken(id, "edge-2"), service = f.ServiceToken("tenant-a");
        var session = f.Client.GetGrain<ISessionGrain>(id);
        var observer = f.Client.CreateObjectReference<IEdgeObserver>(new NullEdgeObserver());
        await As(service, () => session.ConfigureAsync(SessionTestHelpers.Greedy(12)));
        await As(honest, () => session.AttachEdgeAsync("edge-1", observer));
        var turn = await As(service, () => session.SendUserMessageAsync(SessionTestHelpers.Prompts[4]));
        var attachment = await As(honest, () => session.AttachEdgeAsync("edge-1", observer));
        var forged = new TreeSubmission(id, "edge-1", attachment.Step, attachment.Committed.Length, new[] { attachment.Committed[^1], 5 }, new[] { -1, 0 });

        var e = await As(forger, () => Assert.ThrowsAnyAsync<ArgumentException>(() => session.SubmitTreeAsync(forged)));
        Assert.Contains("Edge 'edge-2' is not attached", e.Message);
        var writer = f.Client.GetBroadcastChannelProvider(ChannelNames.Provider)
            .GetChannelWriter<TreeSubmission>(ChannelId.Create(ChannelNames.TreeNamespace, id));
        await As(forger, () => writer.Publish(forged));
        await Task.Delay(300);
        var after = await As(service, () => session.GetAsync());
        Assert.Equal(attachment.Step, after.Step);
        Assert.Equal("edge-1", after.AttachedEdge);

        // Attaching "as edge-1" attaches edge-2 (its credential's id), and a detach "as edge-1" by edge-2 detaches nothing of edge-1's.
        await As(forger, () => session.DetachEdgeAsync("edge-1"));
        Assert.Equal("edge-1", (await As(service, () => session.GetAsync())).AttachedEdge);

        // An edge sees no silo name, and no other edge's id.
        var seenByForger = await As(forger, () => session.GetAsync());
        Assert.Null(seenByForger.Silo);
        Assert.Null(seenByForger.AttachedEdge);

        // Control: the honest edge's identical tree is verified; then the server finishes the reply after the lease.
        var verdict = await As(honest, () => session.SubmitTreeAsync(forged));
        Assert.Equal(attachment.Step, verdict.Step);
        var stream = new List<int>();
        await As(service, async () => { await foreach (var chunk in session.StreamReplyAsync()) stream.AddRange(chunk.Tokens); });
        Assert.Equal(f.ReferenceGreedy(turn.AppendedTokens, 12), stream.ToArray());
    }

    [Fact]
    public async Task EdgesAndServices_CannotCallVerifiers_TheManagementGrain_OrDeactivateAnything()
    {
        string own = NewId("tenant-a", "own"), victimId = NewId("tenant-b", "victim");
        string edge = f.EdgeToken(own, "edge-a", chat: true), service = f.ServiceToken("tenant-a");
        var ownSession = f.Client.GetGrain<ISessionGrain>(own);
        await As(edge, () => ownSession.ConfigureAsync(SessionTestHelpers.Greedy(4)));
        string silo = (await ownSession.GetAsync()).Silo!;   // as operator (the fixture's client)
        var verifier = f.Client.GetGrain<IVerifierBatchGrain>(new VerifierKey(silo, 0).ToString());
        var management = f.Client.GetGrain<IManagementGrain>(0);
        var victim = f.Client.GetGrain<ISessionGrain>(victimId);
        await As(f.ServiceToken("tenant-b"), () => victim.ConfigureAsync(SessionTestHelpers.Greedy(4)));

        foreach (var token in new[] { edge, service })
        {
            var refusals = new[]
            {
                await Refused(token, () => verifier.GetStatsAsync()),
                await Refused(token, () => verifier.OpenAsync(own, new SequenceSnapshot(new[] { 1, 2 }, 2, SessionTestHelpers.Greedy(4) with { Seed = 1 }, 0, true))),
                await Refused(token, () => verifier.CloseAsync(victimId)),
                await Refused(token, () => management.GetHosts()),
                await Refused(token, () => management.GetDetailedGrainStatistics()),
                await Refused(token, () => management.ForceActivationCollection(TimeSpan.Zero)),
                await Refused(token, () => victim.AsReference<IGrainManagementExtension>().DeactivateOnIdle().AsTask()),
                await Refused(token, () => ownSession.AsReference<IGrainManagementExtension>().DeactivateOnIdle().AsTask()),
            };
            foreach (var e in refusals) Assert.DoesNotContain(silo, e.Message);
        }
        // A service reaches its own tenant's conversations only.
        await As(service, () => ownSession.GetAsync());
        Assert.Contains("own tenant", (await Refused(service, () => victim.GetAsync())).Message);

        // Controls: the operator may do all of it.
        Assert.NotEmpty(await management.GetHosts());
        await verifier.GetStatsAsync();

        await AssertVictimRepliesGreedilyAsync(victimId, f.ServiceToken("tenant-b"));
    }

    [Fact]
    public async Task MissingExpiredForgedAndTamperedCredentials_AreRefusedWithClearErrors()
    {
        string victimId = NewId("tenant-b", "victim");
        var victim = f.Client.GetGrain<ISessionGrain>(victimId);
        string valid = f.EdgeToken(victimId, "edge-b", chat: true);

        var otherKeys = SigningKeySet.CreateRandom("test");   // same key id, different key: a forger's own signing key
        var forged = CredentialCodec.Sign(new AccessCredential { Role = CredentialRole.Operator, ExpiresAt = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds() }, otherKeys);
        var unknownKey = CredentialCodec.Sign(new AccessCredential { Role = CredentialRole.Operator, ExpiresAt = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds() }, SigningKeySet.CreateRandom("k9"));
        var cases = new (string Token, string Expected)[]
        {
            ("", "no credential was presented"),
            (f.EdgeToken(victimId, "edge-b", chat: true, lifetime: TimeSpan.FromMinutes(-1)), "has expired"),
            (forged, "signature is invalid"),
            (unknownKey, "unknown key"),
            (Tamper(valid, c => c with { Role = CredentialRole.Operator }), "signature is invalid"),
            (Tamper(valid, c => c with { ExpiresAt = c.ExpiresAt + 86_400 }), "signature is invalid"),
            ("v1.not-base64!.x", "malformed"),
            ("garbage", "unknown format"),
        };
        foreach (var (token, expected) in cases)
            Assert.Contains(expected, (await Refused(token, () => victim.GetAsync())).Message);

        // Control: the untampered token is accepted.
        Assert.Equal(victimId, (await As(valid, () => victim.GetAsync())).SessionId);
        await AssertVictimRepliesGreedilyAsync(victimId, f.ServiceToken("tenant-b"));
    }

    /// <summary>Changes the claims of a signed token but keeps its signature: what an edge could do to its own credential.</summary>
    private static string Tamper(string token, Func<AccessCredential, AccessCredential> change)
    {
        var parts = token.Split('.');
        static byte[] Decode(string s) { s = s.Replace('-', '+').Replace('_', '/'); return Convert.FromBase64String(s + new string('=', (4 - s.Length % 4) % 4)); }
        var claims = JsonSerializer.Deserialize<AccessCredential>(Decode(parts[1]))!;
        string body = Convert.ToBase64String(JsonSerializer.SerializeToUtf8Bytes(change(claims))).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        return $"{parts[0]}.{body}.{parts[2]}";
    }

    [Fact]
    public async Task AServiceIssuesEdgeCredentials_ForItsOwnTenantOnly_AndEdgesCannotIssue()
    {
        string service = f.ServiceToken("tenant-a"), id = NewId("tenant-a", "enrolled");
        var issuer = f.Client.GetGrain<ICredentialIssuerGrain>(0);
        string token = await As(service, () => issuer.IssueEdgeCredentialAsync(id, "edge-7", chat: true, TimeSpan.FromMinutes(5)));

        // The issued credential drives its conversation end to end: configure, attach, and an edge-assisted greedy reply.
        var (reply, prompt, _) = await As(token, () => SessionTestHelpers.EdgeReplyAsync(f, id, SessionTestHelpers.Prompts[5], f.PerfectDraft, proactive: false, maxNewTokens: 12));
        Assert.Equal(f.ReferenceGreedy(prompt, 12), reply);
        Assert.Null((await As(token, () => f.Client.GetGrain<ISessionGrain>(id).GetAsync())).Silo);

        Assert.Contains("own tenant", (await Refused(service, () => issuer.IssueEdgeCredentialAsync(NewId("tenant-b", "x"), "edge-7", true, TimeSpan.FromMinutes(5)))).Message);
        await Refused(token, () => issuer.IssueEdgeCredentialAsync(id, "edge-8", true, TimeSpan.FromMinutes(5)));
        // An edge without the chat right may draft but not write.
        string drafter = await As(service, () => issuer.IssueEdgeCredentialAsync(id, "edge-9", chat: false, TimeSpan.FromMinutes(5)));
        await Refused(drafter, () => f.Client.GetGrain<ISessionGrain>(id).SendUserMessageAsync("hello"));
    }

    [Fact]
    public async Task TheSilosOwnTurnStart_IsRefusedToServicesAndEdges_EvenOnTheirOwnConversation()
    {
        // ChatAsync starts its turn through ISessionControl after taking the caller's quota; a client calling it
        // directly would skip the quota, so it is a silo-only interface.
        const string id = "acme/silo-only-turn";
        var control = f.Client.GetGrain<SpecEdge.Grains.Sessions.ISessionControl>(id);
        await Refused(f.ServiceToken("acme"), () => control.StartTurnAsync("hello", null));
        await Refused(f.EdgeToken(id, "edge-x", chat: true), () => control.StartTurnAsync("hello", null));
        var snapshot = await f.Client.GetGrain<ISessionGrain>(id).GetAsync();
        Assert.Empty(snapshot.Messages);
        Assert.False(snapshot.Generating);
    }

    [Fact]
    public async Task AnEdgeObserver_NeverReceivesTheServicesOrTheSilosCredential()
    {
        string id = NewId("tenant-a", "observed");
        string edge = f.EdgeToken(id, "edge-1"), service = f.ServiceToken("tenant-a");
        var recorder = new CredentialRecordingObserver();
        var session = f.Client.GetGrain<ISessionGrain>(id);
        var observer = f.Client.CreateObjectReference<IEdgeObserver>(recorder);
        await As(service, () => session.ConfigureAsync(SessionTestHelpers.Greedy(4)));
        await As(edge, () => session.AttachEdgeAsync("edge-1", observer));
        await As(service, () => session.SendUserMessageAsync(SessionTestHelpers.Prompts[0]));
        await recorder.TurnStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(recorder.Calls > 0);
        Assert.Null(recorder.SeenCredential);
        await As(edge, () => session.DetachEdgeAsync("edge-1"));
    }

    private sealed class CredentialRecordingObserver : IEdgeObserver
    {
        public readonly TaskCompletionSource TurnStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int Calls;
        public string? SeenCredential;

        private Task Record()
        {
            Calls++;
            SeenCredential ??= RequestContext.Get(CallerCredential.RequestContextKey) as string;
            return Task.CompletedTask;
        }

        public Task OnVerdict(StepVerdict verdict) => Record();
        public Task OnRejected(TreeRejection rejection) => Record();
        public Task OnEarlyVerdict(EarlyStepVerdict verdict) => Record();
        public Task OnTurnStarted(TurnStarted turn) { Record(); TurnStarted.TrySetResult(); return Task.CompletedTask; }
    }
}
