using SpecEdge.Inference.Speculative;

namespace SpecEdge.Grains.Verification;

/// <summary>
/// How many steps one forward may take while tenants of unequal demand share a device. Round robin
/// (<see cref="VerifierScheduler.NextForward"/>) decides who gets into a forward; this bounds what the forward costs,
/// which is what a light tenant's step waits for. A step of a tenant with one reply arrives while a forward runs, waits
/// for it to end, then rides the next: on a device where every sequence adds cost (a CPU), forwards filled with a heavy
/// tenant's steps make that several times what the step costs alone, however fairly the slots are shared.
/// <para>
/// So while tenants of unequal demand are active, a forward takes one equal round (each active tenant's share: as many
/// steps as the lightest tenant has replies stepping, times the tenant's weight) and only as many more as keep its cost
/// within <c>stretch</c> times the round's. Costs are what plain forwards of each size took on this device lately (the
/// trimmer's cost line is fitted to trees and prefills too, and prices a plain step poorly). Where a sequence is nearly
/// free (a GPU below its compute knee) that admits the whole queue; on a CPU it is about the round. The heavy tenant
/// pays for it in batch size. Tenants of equal demand are not limited: a round holds them all anyway.
/// </para>
/// Not thread-safe: the scheduler's owner serialises it.
/// </summary>
public sealed class FairRoundLimit(double stretch, Func<DateTime> now)
{
    /// <summary>
    /// A reply counts as stepping for this long after its last step was queued: longer than an edge's turnaround
    /// (round trip plus drafting), so a reply decoded over a slow link does not drop out between its steps.
    /// </summary>
    public static readonly TimeSpan ActiveFor = TimeSpan.FromSeconds(1);

    /// <summary>A forward size's cost not seen again for this long is measured again: a noisy sample must not stick.</summary>
    public static readonly TimeSpan CostsKeptFor = TimeSpan.FromSeconds(10);

    /// <summary>Per tenant, when each of its sessions last queued a step.</summary>
    private readonly Dictionary<string, Dictionary<string, DateTime>> _tenants = new();

    /// <summary>Per number of sequences, what a plain forward (one token each) took lately (smoothed), and when last seen.</summary>
    private readonly Dictionary<int, (double Ms, DateTime At)> _plainMs = new();

    private const double Smoothing = 0.2;

    /// <summary>0 switches the limit off.</summary>
    public bool Enabled => stretch > 0;

    /// <summary>A step of <paramref name="sessionId"/> was queued now.</summary>
    public void Stepped(string sessionId)
    {
        if (!Enabled) return;
        string tenant = VerifierScheduler.TenantOf(sessionId);
        if (!_tenants.TryGetValue(tenant, out var sessions)) _tenants[tenant] = sessions = new();
        sessions[sessionId] = now();
    }

    public void Forget(string sessionId)
    {
        string tenant = VerifierScheduler.TenantOf(sessionId);
        if (_tenants.TryGetValue(tenant, out var sessions) && sessions.Remove(sessionId) && sessions.Count == 0) _tenants.Remove(tenant);
    }

    /// <summary>A forward of <paramref name="shape"/> took <paramref name="ms"/> on the device; only plain ones are kept.</summary>
    public void Observe(ForwardShape shape, double ms)
    {
        if (!Enabled || shape.Masked || shape.Sequences <= 0 || shape.Tokens != shape.Sequences || !(ms > 0) || double.IsInfinity(ms)) return;
        _plainMs[shape.Sequences] = (_plainMs.TryGetValue(shape.Sequences, out var seen) ? seen.Ms + Smoothing * (ms - seen.Ms) : ms, now());
    }

    /// <summary>
    /// The most steps the next forward may take (null: no limit), given each tenant's weight (slots per round). Sizes
    /// whose cost is not known yet are tried one forward at a time: half way between the largest that fits and the
    /// smallest that does not, or twice the largest when none is known not to, so the edge is found in a few forwards.
    /// </summary>
    public int? MaxSteps(Func<string, int> weight)
    {
        if (!Enabled) return null;
        var at = now();
        foreach (var (tenant, sessions) in _tenants.ToList())
        {
            foreach (var (session, last) in sessions.ToList())
                if (last < at - ActiveFor) sessions.Remove(session);
            if (sessions.Count == 0) _tenants.Remove(tenant);
        }
        foreach (var (size, cost) in _plainMs.ToList())
            if (cost.At < at - CostsKeptFor) _plainMs.Remove(size);
        if (_tenants.Count < 2) return null;
        int lightest = _tenants.Values.Min(s => s.Count);
        int round = _tenants.Sum(t => Math.Min(t.Value.Count, weight(t.Key) * lightest));
        if (round >= _tenants.Values.Sum(s => s.Count)) return null;     // everyone fits in one round: nothing to bound
        if (!_plainMs.TryGetValue(round, out var roundCost)) return round;
        double budget = stretch * roundCost.Ms;
        int fits = round;
        int? over = null;
        foreach (int size in _plainMs.Keys.Where(k => k > round).Order())
        {
            if (_plainMs[size].Ms > budget) { over = size; break; }
            fits = size;
        }
        int probe = over is int o ? (fits + o) / 2 : 2 * fits;
        return probe > fits && !_plainMs.ContainsKey(probe) ? probe : fits;
    }
}
