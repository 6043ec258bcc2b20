"""Independent check of SpecEdge's logits: Hugging Face transformers runs the same random-weight checkpoints that
SpecEdge.GpuBench equivalence wrote (results/checkpoints/<model>/ with ours.json: tokens and our device logits) and the
maximum absolute difference is reported per model. Exit 1 if any exceeds the tolerance."""
import json, os, sys
import torch
from transformers import AutoModelForCausalLM

TOLERANCE = 1e-3
root = os.path.join(sys.argv[1] if len(sys.argv) > 1 else "infra/gpu/out/results", "checkpoints")
device = "cuda" if torch.cuda.is_available() else "cpu"
results, ok = [], True
for name in sorted(os.listdir(root)):
    folder = os.path.join(root, name)
    ours = json.load(open(os.path.join(folder, "ours.json")))
    model = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32).to(device).eval()
    with torch.no_grad():
        logits = model(torch.tensor([ours["tokens"]], device=device)).logits[0].float().cpu()
    diff = (logits - torch.tensor(ours["logits"])).abs().max().item()
    passed = diff < TOLERANCE
    ok &= passed
    results.append({"model": name, "max_abs_vs_transformers": diff, "tolerance": TOLERANCE, "pass": passed})
    print(f"  {name:22} transformers vs SpecEdge max |diff| {diff:.2e}  {'ok' if passed else 'FAIL'}")
json.dump({"device": device, "results": results}, open(os.path.join(os.path.dirname(root), "transformers.json"), "w"), indent=2)
sys.exit(0 if ok else 1)
