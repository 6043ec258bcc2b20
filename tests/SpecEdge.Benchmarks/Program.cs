using SpecEdge.Benchmarks;

// Usage: dotnet run --project tests/SpecEdge.Benchmarks -c Release -- <forward|spec> [options]
var command = args.FirstOrDefault() ?? "help";
var options = BenchOptions.Parse(args.Skip(1).ToArray());
try { BenchCommands.CheckOptions(command, options); }
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    Environment.Exit(2);   // not `return 2`: an int-returning Main would override the exit codes the soak and e2e set
}
switch (command)
{
    case "forward": ForwardBenchmark.Run(options); break;
    case "cluster": await ClusterBenchmark.RunAsync(options); break;
    case "spec": SpeculativeBenchmark.Run(options); break;
    case "verify-cost": VerifyCostBenchmark.Run(options); break;
    case "gemm-rows": GemmRowsBenchmark.Run(options); break;
    case "security": await SecurityOverheadBenchmark.RunAsync(options); break;
    case "storage": await StorageBenchmark.RunAsync(options); break;
    case "openai": await OpenAiBenchmark.RunAsync(options); break;
    case "durability": await DurabilityBenchmark.RunAsync(options); break;
    case "e2e": Environment.ExitCode = await SpecEdge.Benchmarks.E2e.E2eBenchmark.RunAsync(options); break;
    case "capacity": await SpecEdge.Benchmarks.Capacity.CapacityBenchmark.RunAsync(options); break;
    case "fairness": await FairnessBenchmark.RunAsync(options); break;
    case "json-output": JsonOutputBenchmark.Run(options); break;
    case "prefix-cache": PrefixCacheBenchmark.Run(options); break;
    case "early-exit": EarlyExitBenchmark.Run(options); break;
    case "pipeline-sim": SpecEdge.Benchmarks.Capacity.PipelineStudy.Run(options); break;
    case "goodput-sim": SpecEdge.Benchmarks.Capacity.GoodputSimulation.Run(options); break;
    case "server-draft": ServerDraftBenchmark.Run(options); break;
    default:
        Console.WriteLine("""
            SpecEdge benchmarks (each prints a table and writes JSON):
              forward [--repeats 15] [--prefix 512] [--tree 32] [--batch 8] [--out bench-results/forward.json]
                  Forward time of a ~50M-parameter Qwen3-style model on CPU, fp32 and bf16.
              capacity [--batches 1,4,8] [--rtt-ms 0,15] [--clients 1,4,8] [--cluster true] [--sessions 1,2,4,...,128] [--alpha 0.8]
                   [--itl-target-ms 50] [--launch-us-per-layer 50] [--out bench-results/capacity.json] [--plot bench-results/capacity.png]
                  Discrete-event capacity model: calibrated on this machine (forward timings, a spec run, a cluster run) with the
                  error of its predictions, then a roofline projection (Qwen3-14B on A100 / H200, Qwen3-1.7B on RTX 4090 edges).
              goodput-sim [--sessions 1,2,4,...,256] [--alpha 0.8] [--rtt-ms 14] [--max-batch 0 (KV memory)] [--itl-target-ms 50] [--hand-back-steps 64] [--hand-back-max-ms 2000] [--decode-while-edge-drafts true] [--reply-spread 0]
                   [--out bench-results/goodput-sim.json] [--plot bench-results/goodput-sim.png]
                  Roofline projection (A100, H200) of edge-assisted SD with goodput trimming beside AR, server-only SD and whole
                  trees, batch limited by KV memory, trimming decided by the verifier's own rule; the issue-22 goals checked.
              server-draft [--sequences 1,2,4,8,16] [--repeats 5] [--prompt 128] [--draft models/demo/draft] [--out bench-results/server-draft.json]
                  The server's drafting: n trees drafted together (one batched draft forward per round) against one after
                  another, interleaved, on the demo draft and a d512 x10 random draft; the pass line a silo's ledger learns.
              prefix-cache [--repeats 3] [--parts copy,ttft,memory,throughput] [--prefix 1024] [--capacity 2048] [--sequences 8] [--prompt 256] [--reply 32] [--out bench-results/prefix-cache.json]
                  The device's prefix cache on a d512 Qwen3-style model: copy against gather, time to first token cached vs cold
                  (system prompt, another tenant, regenerate, edit), KV memory of 32 conversations, throughput when nothing is shared.
              early-exit [--parts split,hits,sim,bets] [--repeats 9] [--prefix 512] [--tree 32] [--batches 1,4,8] [--shortlist 1024] [--out bench-results/early-exit.json]
                  What splitting the verifying forward at an early exit (half depth) costs over the unsplit forward, with
                  the early verdicts computed; the exit head's share of a forward by shape (demo, this model, Qwen3-14B).
              pipeline-sim [--sessions 8,16] [--max-batch =edges] [--rtt-ms 15] [--turnaround-ratios 0.5,1,2] [--jitter 0,0.1,0.3] [--seeds 5]
                   [--cpu-cost 3.40,0.30,127] [--alpha 0.85] [--out bench-results/pipeline-sim.json]
                  Simulated work-conserving vs pipeline-aware batching (the verifier's own planner) on a CPU cost line and a GPU
                  roofline, with and without jitter: where the schedule can gain throughput or cut the idle fraction at all.
              cluster [--target models/demo/target --draft models/demo/draft --clients 1,4,8 --max-new-tokens 64 --steps 200]
                  Per-step cluster overhead (broadcast channel vs direct grain call) and end-to-end tokens/s with
                  concurrent edge clients against one in-process silo (real Orleans, loopback TCP).
              fairness [--flood 64] [--flood-tokens 400] [--quiet-tokens 48] [--replies 3] [--max-batch 8] [--out bench-results/fairness.json]
                  A quiet tenant's time between tokens alone and beside a tenant running --flood long replies at once, on a
                  verifier filling forwards in arrival order and on one sharing them round robin across tenants.
              durability [--rounds 20] [--max-new-tokens 48] [--out bench-results/durability.json]
                  What session persistence adds to an edge's step: memory vs Azure Blob (Azurite) with the verdict sent
                  before / after the step's state write, three in-process clusters side by side in one run.
              e2e [--edge-processes 2] [--sessions 2] [--max-new-tokens 32] [--rtt-ms 0,15,50] [--max-batch 8] [--pipeline true]
                  [--pipeline-sessions 4] [--pipeline-rtt-ms 15] [--pipeline-draft-ms auto] [--pipeline-rounds 2] [--pipeline-warmup-rounds 1] [--pipeline-edge-nice 0] [--pipeline-draft-replay true] [--slow-edge-ms 0] [--out bench-results/e2e.json]
                  Real processes (silos with Azurite, edge-host processes) behind a delaying TCP proxy (emulated WAN): AR, server-only
                  SD, edge-assisted, edge-assisted + proactive side by side; per-step breakdown; then work-conserving vs
                  pipeline-aware batching with emulated edge draft time (idle fraction, throughput).
              security [--calls 3000] [--steps 200] [--out bench-results/security.json]
                  Cost of credential checks: plain call round trip and per-step overhead, two clusters side by side.
              openai [--requests 200] [--streams 20] [--stream-tokens 32] [--follow-ups 10] [--history-words 400] [--out bench-results/openai.json]
                  The OpenAI-compatible HTTP API of a real silo process: overhead per request and per streamed token over
                  direct grain calls, and time to first token of a follow-up turn with the session continued vs re-encoded.
              spec [--target models/demo/target] [--draft models/demo/draft] [--batches 1,4,8] [--max-new-tokens 64]
                   [--rtt-ms 0,15] [--prompts 16] [--repeats 3] [--format raw|chat] [--dtype float32] [--threads 1] [--out bench-results/spec.json]
                   [--drafts old=DIR,new=DIR] [--trees fixed,goodput,goodput-w15,forced-2,fixed-t1,adaptive,adaptive-knee] [--knee 256] [--variants old:fixed-t1,new:adaptive] [--prompt-set builtin|heldout] [--prompt-tokens 32]
                   [--proactive true|false] [--row-multiple 0] [--budget 32 --max-depth 4] [--adaptive-budget 48 --adaptive-depth 8] [--nodes-per-level 8] [--verifier-token-knee 0]
                  Target-only AR vs server-only tree SD vs edge-assisted SD (with and without proactive drafting), greedy:
                  tokens per forward, acceptance, server/edge compute, server throughput, cost, emulated inter-token latency;
                  optionally several drafts and tree policies side by side, on held-out Brown prompts the demo pair never saw.
                  goodput: trees trimmed by the verifier's goodput rule (goodput-wN: told each step also waits N ms outside
                  the server); forced-N: trees cut to N nodes. Edge-assisted rows' server time is the target's work replayed
                  without the draft (an edge-assisted server runs none).
              verify-cost [--batches 1,4,8] [--repeats 40] [--prefix 64] [--draft-between false] [--row-multiples 0] [--out bench-results/verify-cost.json]
                  Verify step time by tree shape (plain decode, root only, 1..32 nodes, uneven): the cost structure goodput
                  trimming learns; --draft-between true puts draft forwards between steps (co-located cache pollution);
                  --row-multiples 1,4 runs every shape unpadded and with rows padded to the kernel's block, interleaved.
              gemm-rows [--max-rows 33] [--repeats 400] [--target models/demo/target] [--out bench-results/gemm-rows.json]
                  One matrix product of the target's layer and head by token rows: why a forward's rows are padded (RowMultiple).
              storage [--conversations 4] [--steps 300] [--prompt 200] [--tokens-per-step 3] [--out bench-results/storage.json]
                  Per-write latency of session state on Azurite (started by the command), grain storage providers side by
                  side in one run, each resolved from an in-process silo; a decoding conversation's state written every step.
              (The soak is its own tool: tests/SpecEdge.Soak.)
            """);
        break;
}
