using SpecEdge.Inference.Constraints;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Prefixes;
using static TorchSharp.torch;
using SpecEdge.Inference;

namespace SpecEdge.Inference.Speculative;

/// <summary>
/// The draft side of one sequence, wherever it runs (an edge, the server beside the target, the in-process decoder):
/// keeps the committed tokens and the draft KV cache, builds a draft tree per step (<see cref="BuildTree"/>), optionally
/// pre-drafts the next tree while the verdict is outstanding (<see cref="PreDraft"/>), and completes the step with what
/// the verifier said (<see cref="Complete"/>). Every draft loop runs the same step: follow the grammar, build, submit,
/// bet while waiting, complete. It talks to the verify side only through
/// <see cref="DraftMessage"/> and <see cref="VerdictMessage"/>, so the two sides can live in different processes.
/// Cache invariant between steps: the prefix holds committed tokens only; a pending tree, if any, is a pre-drafted
/// subtree rooted at the last committed token.
/// </summary>
public sealed class TreeDrafter : IDisposable
{
    private readonly CausalLm _draft;
    private readonly List<int> _committed;
    private DraftSearch? _search;          // the tree of the outstanding step
    private int[] _sent = Array.Empty<int>();  // message index -> search index
    private List<int> _catchUpPending = new(); // pending indices of committed tokens computed along with the root
    private (int Node, int Token, DraftSearch Subtree, int Rounds)? _bet;   // proactive bet: deepest accepted node, bonus, pre-drafted subtree and its rounds
    private (int Node, int Token, DraftSearch? Subtree, int Rounds)? _early; // the early verdict's outcome; a subtree of its own when it differs from the bet
    private DraftSearch? _carried;         // pre-drafted subtree that won its bet: the start of the next tree
    private int _carriedRounds;            // draft rounds already run on it
    private readonly AdaptiveTreePolicy? _policy;   // null: the fixed tree of Options
    private int _depth;                    // depth limit of the outstanding tree

    public DraftTreeOptions Options { get; }
    public KvCache Cache { get; }
    public IReadOnlyList<int> Committed => _committed;
    public long Step { get; private set; }
    public bool Finished { get; private set; }
    /// <summary>
    /// The verifier's context length (tokens). Its KV cache must hold a whole tree on top of the committed tokens, so a
    /// tree never has more nodes besides the root, hence no more depth, than the context has room left for.
    /// </summary>
    public int ContextLimit { get; init; } = int.MaxValue;

    /// <summary>Budget and depth limit of the last tree built (the fixed options unless trees are adaptive).</summary>
    public (int Budget, int Depth) LastTreeShape { get; private set; }

    /// <summary>
    /// Completes a step with what the verifier said of its tree: the verdict, and the load it was verified under (for
    /// adaptive trees, and the budget a trimming verifier left). The one way every draft loop ends a step.
    /// </summary>
    public void Complete(VerdictMessage verdict, VerifierLoad load)
    {
        ObserveVerifierBudget(load.VerifiedNodes);
        ObserveServer(load.Batch, load.Queue, load.ServerMs, load.RoundTripMs);
        ApplyVerdict(verdict);
    }

    /// <summary>
    /// The verifier's side of the last step, for adaptive trees: batch, queue, forward time and measured round trip.
    /// Ignored with fixed trees.
    /// </summary>
    private void ObserveServer(int batch, int queue, double serverMs, double roundTripMs) =>
        _policy?.ObserveServer(batch, queue, serverMs, roundTripMs);

    /// <summary>
    /// The verifier's budget for this sequence's trees: it verified only <paramref name="verifiedNodes"/> nodes of the
    /// last tree (goodput trimming at load), or the whole tree (negative). Nodes it would not verify only cost drafting
    /// time and bytes, so the next trees stop at four times that plus four: room for the budget to grow back as load
    /// falls, and for the verifier to pick its own best nodes, which are not always the draft's (it prices them by what
    /// it has seen accepted; a draft with flat probabilities spends much of its tree on siblings the target never takes).
    /// </summary>
    public void ObserveVerifierBudget(int verifiedNodes)
    {
        _verifierCap = verifiedNodes < 0 ? null : (int)Math.Min(int.MaxValue, 4L * verifiedNodes + 4);
        _lastVerified = verifiedNodes < 0 ? null : verifiedNodes;
    }

    private int? _verifierCap;
    /// <summary>Nodes the verifier verified of the last tree when it trimmed it (null: the whole tree).</summary>
    private int? _lastVerified;

    /// <summary>Steps whose pre-drafted subtree was used / thrown away (proactive drafting statistics).</summary>
    public int ProactiveHits { get; private set; }
    public int ProactiveMisses { get; private set; }

    /// <summary>
    /// Steps with an early verdict from the verifier (<see cref="DraftAhead"/>) whose outcome the final verdict confirmed /
    /// did not (whether or not it needed a subtree of its own beside the proactive bet).
    /// </summary>
    public int EarlyHits { get; private set; }
    public int EarlyMisses { get; private set; }

    /// <summary>The outstanding bet, for diagnostics: depth and token of the node bet on, and the predicted bonus.</summary>
    public (int Depth, int NodeToken, int Bonus)? CurrentBet =>
        _bet is { } b && _search is { } s ? (s.Nodes[b.Node].Depth, s.Nodes[b.Node].Token, b.Token) : null;

    /// <param name="finished">The conversation has no reply in progress: nothing to draft until a turn starts.</param>
    public TreeDrafter(CausalLm draft, IReadOnlyList<int> committed, DraftTreeOptions options, int capacity, long step = 0, bool finished = false)
    {
        options.Validate();
        if (committed.Count == 0) throw new ArgumentException("The draft side needs at least one committed token.");
        _draft = draft;
        _committed = committed.ToList();
        Options = options;
        Step = step;
        Cache = draft.NewCache(capacity);
        _policy = options.Adaptive is null ? null : new AdaptiveTreePolicy(options);
        _catchUpCount = _committed.Count - 1;
        Finished = finished;
    }

    /// <summary>
    /// Copies the longest prefix of the committed tokens (but the last) that <paramref name="prefixes"/> holds under
    /// <paramref name="scope"/> into the draft cache, so only the rest is computed with the next tree; returns how many
    /// tokens it copied. For a drafter on a device that keeps prefixes (the server's drafts); call before the next tree.
    /// </summary>
    public int ReuseCachedPrefix(PrefixCache prefixes, PrefixScope scope)
    {
        // Not while a tree (or a proactive subtree kept for the next step) has pending KV: compacting would drop it.
        if (_search is not null || _carried is not null || _catchUpCount <= 0) return 0;
        if (Cache.PendingCount > 0) Cache.Compact(Array.Empty<int>());
        int reused = prefixes.Restore(Cache, _committed, _committed.Count - 1, scope);
        _catchUpCount = _committed.Count - 1 - Cache.PrefixLength;
        return reused;
    }

    /// <summary>
    /// A new reply in the same conversation: <paramref name="appended"/> (the formatted user message, and the reply's
    /// first tokens when the server decoded them) joins the committed tokens; their draft KV is computed together with the
    /// next tree's root. <paramref name="finished"/>: those first tokens ended the reply, so there is no tree to draft.
    /// </summary>
    public void StartTurn(IReadOnlyList<int> appended, long step, bool finished = false)
    {
        if (_search is not null) throw new InvalidOperationException("Cannot start a turn while a tree is in flight.");
        _committed.AddRange(appended);
        _carried = null;
        _bet = null;
        _early = null;
        if (Cache.PendingCount > 0) Cache.Compact(Array.Empty<int>());
        _catchUpPending = new List<int>();
        _catchUpCount = _committed.Count - 1 - Cache.PrefixLength;
        Finished = finished;
        Step = step;
    }

    /// <summary>
    /// Builds the tree for the current step: root = last committed token, up to Budget more nodes. The same rounds as a
    /// batched pass runs (<see cref="BatchTreeDrafting"/>), each with a forward of this sequence alone.
    /// </summary>
    public DraftMessage BuildTree()
    {
        BeginTree();
        while (NextRound() is { } round)
        {
            using var scope = NewDisposeScope();
            EndRound(round, round.Input is { } input ? _draft.Forward(new[] { input })[0] : null);
        }
        return EndTree();
    }

    /// <summary>The draft model this drafter runs (drafters that share it can draft their trees in one pass, <see cref="BatchTreeDrafting"/>).</summary>
    public CausalLm DraftModel => _draft;

    /// <summary>Whether a tree can be drafted now: the reply goes on and no tree is in flight.</summary>
    public bool CanBuildTree => !Finished && _search is null;

    private int _roundsLeft;   // draft rounds left to the tree being built
    private int _budget;       // its node budget

    /// <summary>
    /// The start of <see cref="BuildTree"/>: the step's search, rooted at the last committed token (or the subtree a won
    /// bet carried over), and its budget, depth and rounds. The rounds run next, alone or batched with other drafters'.
    /// </summary>
    internal void BeginTree()
    {
        if (Finished) throw new InvalidOperationException("The generation has finished.");
        if (_search is not null) throw new InvalidOperationException($"Step {Step} already has a tree in flight; apply its verdict first.");
        var (budgetCap, depth) = _policy?.Next() ?? (Options.Budget, Options.MaxDepth);
        if (_verifierCap is int cap) budgetCap = Math.Min(budgetCap, cap);
        if (_carried is not null)
        {
            _search = _carried;
            _carried = null;
            _roundsLeft = Math.Max(0, depth - _carriedRounds);
        }
        else
        {
            if (Cache.PendingCount > 0) Cache.Compact(Array.Empty<int>());
            _search = new DraftSearch(_committed[^1]);
            _search.Nodes[0].Grammar = ReplyGrammarState();
            _roundsLeft = depth;
        }
        _budget = Math.Clamp(ContextLimit - _committed.Count, 0, budgetCap);
        _depth = depth;
        LastTreeShape = (_budget, depth);
    }

    /// <summary>The end of <see cref="BuildTree"/>: the best nodes of the search, best first, as the step's message.</summary>
    internal DraftMessage EndTree()
    {
        var search = _search ?? throw new InvalidOperationException("No tree is being built.");
        _roundsLeft = 0;
        _sent = search.Select(_budget);
        var index = new Dictionary<int, int>();
        for (int i = 0; i < _sent.Length; i++) index[_sent[i]] = i;
        var tokens = _sent.Select(s => search.Nodes[s].Token).ToArray();
        var parents = _sent.Select(s => search.Nodes[s].Parent < 0 ? -1 : index[search.Nodes[s].Parent]).ToArray();
        var confidence = _sent.Select(s => s == 0 ? (byte)0 : PathConfidence.Encode(search.Nodes[s].PathLogProb)).ToArray();
        return new DraftMessage(Step, _committed.Count, tokens, parents, confidence);
    }

    /// <summary>
    /// One draft round of a tree being built, for a forward shared with other drafters: the nodes it expands, those of
    /// them to compute, and the input they take in the shared forward (null: nothing to compute this round).
    /// </summary>
    internal sealed record Round(List<SearchNode> Expand, List<SearchNode> Missing, SequenceInput? Input, int First);

    /// <summary>The next round of the tree being built (<see cref="BeginTree"/>), or null when its search is over.</summary>
    internal Round? NextRound()
    {
        var search = _search ?? throw new InvalidOperationException("No tree is being built.");
        if (_roundsLeft <= 0 || _budget <= 0) return null;
        if (search.BeginRound(_budget, Options.MaxBeams, _depth) is not { } expand)
        {
            _roundsLeft = 0;
            return null;
        }
        var missing = DraftSearch.Missing(expand);
        if (missing.Count == 0) return new Round(expand, missing, null, 0);
        var (input, first) = PrepareCompute(search, missing);
        return new Round(expand, missing, input, first);
    }

    /// <summary>Ends <paramref name="round"/> with its rows of the shared forward (<paramref name="logits"/>; null when it computed nothing).</summary>
    internal void EndRound(Round round, Tensor? logits)
    {
        var search = _search ?? throw new InvalidOperationException("No tree is being built.");
        if (round.Missing.Count > 0) Score(round.Missing, logits ?? throw new ArgumentNullException(nameof(logits)), round.First);
        _roundsLeft--;
        if (!search.EndRound(round.Expand, _budget, Options.Decay)) _roundsLeft = 0;
    }

    /// <summary>
    /// Proactive drafting, run while the verdict is outstanding: bets on the most likely outcome (the path to a node u
    /// accepted, bonus v) and drafts a subtree under v, which becomes the next tree on a hit. <paramref name="stop"/>
    /// (the verdict arrived) ends it after the draft round in progress: a slow edge never holds its next step back for
    /// more than a round, and a shallower subtree is still a bet.
    /// </summary>
    public void PreDraft(Func<bool>? stop = null)
    {
        if (_search is null || _bet is not null || !Options.Proactive) return;
        var search = _search;
        // A verifier that trims trees verifies about as many of this one's first nodes (best first) as of the last: the
        // outcome lies inside those, so the bet does too. Betting on the whole tree, past the cut, almost never wins.
        var likely = _lastVerified is int verified && verified + 1 < _sent.Length ? _sent.Take(verified + 1).ToArray() : _sent;
        var leaves = likely.Where(s => !likely.Any(c => search.Nodes[c].Parent == s)).ToList();
        var uncomputed = leaves.Where(l => search.Nodes[l].Top is null).Select(l => search.Nodes[l]).ToList();
        if (uncomputed.Count > 0) Compute(search, uncomputed);

        var (node, token) = Options.GreedyVerification ? GreedyBet(search, likely) : ScoredBet(search, leaves);
        if (node < 0) return;
        var (subtree, rounds) = DraftBet(search, node, token, stop);
        _bet = (node, token, subtree, rounds);
    }

    /// <summary>
    /// The subtree of a bet that the path to <paramref name="node"/> is accepted with bonus <paramref name="token"/>
    /// (its root), drafted round by round up to the proactive depth or until <paramref name="stop"/>; with the rounds run.
    /// </summary>
    private (DraftSearch Subtree, int Rounds) DraftBet(DraftSearch search, int node, int token, Func<bool>? stop)
    {
        var subtree = new DraftSearch(token) { RootParentPending = search.Nodes[node].Pending };
        subtree.Nodes[0].Grammar = Advance(search.Nodes[node].Grammar, token);
        int rounds = 0;
        // One round at a time is the same search as all rounds at once (each round starts from the tree as it stands).
        while (rounds < Options.ProactiveDepth && stop?.Invoke() != true)
        {
            int before = subtree.Nodes.Count;
            subtree.Run(1, Options.Budget, Options.MaxBeams, Options.ProactiveDepth, Options.ProactiveDecay, nodes => Compute(subtree, nodes));
            rounds++;
            if (subtree.Nodes.Count == before) break;   // nothing left to expand
        }
        return (subtree, rounds);
    }

    /// <summary>The node of the sent tree among <paramref name="nodes"/> that is <paramref name="parent"/>'s child with <paramref name="token"/>, or -1 (siblings are distinct).</summary>
    private static int Child(DraftSearch search, int[] nodes, int parent, int token) =>
        nodes.FirstOrDefault(s => s != 0 && search.Nodes[s].Parent == parent && search.Nodes[s].Token == token, -1);

    /// <summary>
    /// Early exits: the verifier's exit head would accept <paramref name="earlyTokens"/> of the tree in flight for
    /// <paramref name="step"/> (the path's tokens, then its bonus). Drafts a subtree under that outcome, as
    /// <see cref="PreDraft"/> does under its own bet, unless the bet is the same; on a hit it becomes the next tree.
    /// False, changing nothing, when there is nothing to draft: a stale step (the verdict came first), a path that is not
    /// the tree's, a finished reply, or a second early verdict for the step. Lossless either way: the verdict alone commits.
    /// </summary>
    public bool DraftAhead(long step, IReadOnlyList<int> earlyTokens, Func<bool>? stop = null)
    {
        if (_search is not { } search || step != Step || Finished || _early is not null || earlyTokens.Count == 0 || !Options.DraftAhead) return false;
        int node = 0;
        for (int i = 0; i < earlyTokens.Count - 1 && node >= 0; i++) node = Child(search, _sent, node, earlyTokens[i]);
        if (node < 0) return false;
        int token = earlyTokens[^1];
        if (token < 0 || token >= _draft.Config.VocabSize) return false;
        if (_bet is { } bet && bet.Node == node && bet.Token == token)
        {
            _early = (node, token, null, 0);   // the proactive bet already drafted this outcome
            return false;
        }
        if (search.Nodes[node].Pending < 0) Compute(search, new[] { search.Nodes[node] });   // a leaf never expanded
        var (subtree, rounds) = DraftBet(search, node, token, stop);
        _early = (node, token, subtree, rounds);
        return true;
    }

    /// <summary>
    /// The paper's bet: over all leaves l and the draft's top tokens v after l, maximise
    /// <c>s(l) + ln(proactive decay) + log p_draft(v | l)</c> ("the whole path to l is accepted and v is the bonus").
    /// </summary>
    private (int Node, int Token) ScoredBet(DraftSearch search, List<int> leaves)
    {
        double logDecay = Math.Log(Options.ProactiveDecay);
        var best = leaves.SelectMany(l => search.Nodes[l].Top!.Select(t => (Node: l, t.Token, Score: search.Nodes[l].Score + logDecay + t.LogProb)))
            .DefaultIfEmpty((Node: -1, Token: -1, Score: double.NegativeInfinity)).MaxBy(x => x.Score);
        return (best.Node, best.Token);
    }

    /// <summary>
    /// With a greedy verifier the outcome is deterministic, so the likeliest one is where the draft's own argmax chain
    /// leaves the tree: follow the top token from the root while it is a child; bet on the node reached and its top token.
    /// Score-based bets favour shallow leaves and almost never hold at temperature 0.
    /// </summary>
    private (int Node, int Token) GreedyBet(DraftSearch search, int[] likely)
    {
        int node = 0;
        while (search.Nodes[node].Top is { Length: > 0 } top)
        {
            int next = Child(search, likely, node, top[0].Token);
            if (next < 0) return (node, top[0].Token);
            node = next;
        }
        return (-1, -1);
    }

    /// <summary>Applies the verify side's answer for the outstanding step: commits tokens and compacts the draft cache.</summary>
    public void ApplyVerdict(VerdictMessage verdict)
    {
        if (_search is null) throw new InvalidOperationException("No tree is in flight.");
        if (verdict.Step != Step) throw new InvalidOperationException($"Verdict is for step {verdict.Step}, but step {Step} is in flight.");
        var search = _search;
        var tokens = verdict.AcceptedTokens;

        // Walk the sent tree along the accepted tokens (siblings are distinct, so the walk is unambiguous). The last token
        // is the bonus, never a node: under a verifier that trimmed the tree it may equal a sent node the verifier did not
        // verify, and walking into it committed that node's draft KV as the bonus's and judged every bet on it lost.
        var path = new List<int> { 0 };
        int matched = 0;
        while (matched < tokens.Length - 1)
        {
            int at = path[^1];
            int next = Child(search, _sent, at, tokens[matched]);
            if (next < 0) break;
            path.Add(next);
            matched++;
        }
        _committed.AddRange(tokens);
        Finished = verdict.Finished;
        _policy?.ObserveStep(matched, _depth);

        var commit = _catchUpPending.ToList();
        foreach (int s in path)
        {
            if (search.Nodes[s].Pending < 0) break;
            commit.Add(search.Nodes[s].Pending);
        }
        bool allComputed = commit.Count == _catchUpPending.Count + path.Count;
        bool outcomeIs(int node, int token) => !Finished && allComputed && matched == tokens.Length - 1 && path[^1] == node && tokens[^1] == token;
        bool betHit = _bet is { } bet && outcomeIs(bet.Node, bet.Token);
        bool earlyHit = _early is { } early && outcomeIs(early.Node, early.Token);
        if (_bet is not null) { if (betHit) ProactiveHits++; else ProactiveMisses++; }
        if (_early is not null && !Finished) { if (earlyHit) EarlyHits++; else EarlyMisses++; }   // a last step has no next tree to bet for
        // On a hit, the pre-drafted subtree is rooted at the new last committed token: move its KV, don't recompute it.
        var (carried, carriedRounds) = betHit ? (_bet!.Value.Subtree, _bet.Value.Rounds) : earlyHit ? (_early!.Value.Subtree, _early.Value.Rounds) : (null, 0);
        if (carried is not null)
        {
            _carriedRounds = carriedRounds;
            var keep = carried.Nodes.Where(n => n.Pending >= 0).ToList();
            Cache.Compact(commit, keep.Select(n => n.Pending).ToArray());
            for (int i = 0; i < keep.Count; i++) keep[i].Pending = i;
            carried.RootParentPending = -1;
            _carried = carried;
        }
        else Cache.Compact(commit);
        // Committed tokens (except the newest, the next root) whose draft KV is still missing: computed with the next root.
        _catchUpPending = new List<int>();
        _catchUpCount = _committed.Count - 1 - Cache.PrefixLength;
        _search = null;
        _bet = null;
        _early = null;
        // Tokens the server decoded on its own after this step followed the bonus: they were committed above, their
        // draft KV is caught up with the next root, and the next tree is for the step after them.
        Step = verdict.NextStep;
    }

    /// <summary>
    /// One draft forward for <paramref name="nodes"/> of <paramref name="tree"/> (their parents already computed),
    /// preceded by any committed tokens the cache still lacks. Stores each node's pending index and top tokens.
    /// </summary>
    private void Compute(DraftSearch tree, IReadOnlyList<SearchNode> nodes)
    {
        var (input, first) = PrepareCompute(tree, nodes);
        using var scope = NewDisposeScope();
        var logits = _draft.Forward(new[] { input })[0];
        Score(nodes, logits, first);
    }

    /// <summary>
    /// The input of a draft forward for <paramref name="nodes"/> (after any catch-up tokens, which start it), and the row
    /// of its first node. Assigns the nodes' pending indices and grammar states: the forward must run before the next.
    /// </summary>
    private (SequenceInput Input, int First) PrepareCompute(DraftSearch tree, IReadOnlyList<SearchNode> nodes)
    {
        var tokens = new List<int>();
        var parents = new List<int>();
        int basePending = Cache.PendingCount;
        if (_catchUpCount > 0)
        {
            if (basePending != 0) throw new InvalidOperationException("Catch-up tokens need an empty pending tree.");
            for (int i = 0; i < _catchUpCount; i++)
            {
                tokens.Add(_committed[Cache.PrefixLength + i]);
                parents.Add(i - 1);
                _catchUpPending.Add(i);
            }
        }
        int first = tokens.Count;
        foreach (var node in nodes)
        {
            int parentPending = node.Parent >= 0 ? tree.Nodes[node.Parent].Pending
                : tree.RootParentPending >= 0 ? tree.RootParentPending
                : _catchUpPending.Count > 0 ? _catchUpPending[^1] : -1;
            if (node.Parent >= 0 && parentPending < 0) throw new InvalidOperationException("A draft node's parent has no KV yet.");
            tokens.Add(node.Token);
            parents.Add(parentPending);
            node.Pending = basePending + tokens.Count - 1;
        }
        _catchUpCount = 0;

        // A node's grammar state follows from its parent's (parents are computed first, the root's is set when drafted).
        foreach (var node in nodes)
            if (node.Grammar is null && node.Parent >= 0) node.Grammar = Advance(tree.Nodes[node.Parent].Grammar, node.Token);
        return (new SequenceInput(Cache, tokens.ToArray(), parents.ToArray()), first);
    }

    /// <summary>Each node's top tokens from its row of <paramref name="logits"/> (rows from <paramref name="first"/>, in order), under the reply's grammar.</summary>
    private void Score(IReadOnlyList<SearchNode> nodes, Tensor logits, int first)
    {
        using var scope = NewDisposeScope();
        var scored = logits.narrow(0, first, nodes.Count);
        if (_masker is not null && nodes.Any(n => n.Grammar is not null))
            TargetVerifier.MaskRowsInPlace(scored, nodes.Select(n => n.Grammar is { } g ? _masker.Allowed(g) : null).ToArray());
        double temperature = Options.EffectiveScoreTemperature;
        if (temperature != 1.0) scored = scored.to(ScalarType.Float32).Over(temperature);
        var logProbs = scored.log_softmax(-1);
        var (values, indices) = logProbs.topk(Math.Min(Options.BranchWidth, (int)logProbs.shape[1]), dim: -1);
        var v = values.to_type(ScalarType.Float64).data<double>().ToArray();
        var ix = indices.data<long>().ToArray();
        int k = (int)values.shape[1];
        // Under a grammar a row may allow fewer tokens than the branch width: the refused ones (-inf) are no candidates.
        for (int i = 0; i < nodes.Count; i++)
            nodes[i].Top = Enumerable.Range(0, k).Select(j => ((int)ix[i * k + j], v[i * k + j])).Where(t => !double.IsNegativeInfinity(t.Item2)).ToArray();
    }

    private TokenMasker? _masker;
    private JsonGrammar? _grammar;
    private int _replyStart, _grammarCount;
    private GrammarState? _replyGrammar;

    /// <summary>
    /// A step's first half, as every draft loop runs it: the tree for the next step, drafted under the reply's grammar
    /// (<see cref="FollowGrammar"/>; null: freely). The loop then submits it, may bet while it waits
    /// (<see cref="PreDraft"/>, <see cref="DraftAhead"/>), and ends the step with <see cref="Complete"/>.
    /// </summary>
    public DraftMessage NextTree(JsonGrammar? grammar, int replyStart, TokenMasker? masker)
    {
        FollowGrammar(grammar, replyStart, masker);
        return BuildTree();
    }

    /// <summary>
    /// Drafts the reply that starts at committed token <paramref name="replyStart"/> under <paramref name="grammar"/>
    /// (null: freely), masking the draft's rows with <paramref name="masker"/> as the verifier masks the target's, so the
    /// tree holds only tokens the target may choose. Call before each tree; it only recomputes when the reply changed.
    /// Ignored when <see cref="DraftTreeOptions.DraftUnderGrammar"/> is off.
    /// </summary>
    public void FollowGrammar(JsonGrammar? grammar, int replyStart, TokenMasker? masker)
    {
        if (grammar is null || masker is null || !Options.DraftUnderGrammar)
        {
            (_grammar, _masker, _replyGrammar) = (null, null, null);
            return;
        }
        if (ReferenceEquals(grammar, _grammar) && replyStart == _replyStart && ReferenceEquals(masker, _masker)) return;
        (_grammar, _masker, _replyStart) = (grammar, masker, replyStart);
        (_replyGrammar, _grammarCount) = (grammar.Start(), replyStart);
    }

    /// <summary>The grammar state after every committed reply token (advanced as verdicts commit); null when not following one.</summary>
    private GrammarState? ReplyGrammarState()
    {
        if (_grammar is null) return null;
        if (_grammarCount > _committed.Count) (_replyGrammar, _grammarCount) = (_grammar.Start(), _replyStart);
        for (; _grammarCount < _committed.Count && _replyGrammar is not null; _grammarCount++) _replyGrammar = Advance(_replyGrammar, _committed[_grammarCount]);
        _grammarCount = _committed.Count;
        return _replyGrammar;
    }

    private GrammarState? Advance(GrammarState? state, int token) =>
        state is not null && _masker?.Vocabulary.Bytes(token) is { } bytes ? state.Advance(bytes) : null;

    private int _catchUpCount;

    public void Dispose() => Cache.Dispose();
}
