"""The lever table: one row per arm from runs/lever-<arm>/ (metrics, summary, measure)."""
import json
import sys
from pathlib import Path

from mazepolicy.eval.stats import paired_comparison, wilson_interval

ARMS = sys.argv[1:] or ["baseline", "greedy", "smooth", "frames32", "batch256"]
CELLS = 8346  # cells of the 60 agreement mazes


def outcomes(prefix: str, name: str) -> list[bool]:
    episodes = json.load(open(f"{prefix}.{name}.json"))["episodes"]
    return [e["reached_cheese"] for e in sorted(episodes, key=lambda e: e["level_seed"])]


def fmt(rate, ci):
    return f"{rate:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


rows, base = [], {}
for arm in ARMS:
    prefix = f"runs/lever-{arm}/measure.json" if arm != "shipped" else "runs/shipped-measure.json"
    if not Path(prefix).exists():
        continue
    m = json.load(open(prefix))
    result = {k: outcomes(prefix, k) for k in ("greedy", "sampled")}
    if arm == "baseline":
        base = result
    agreed = round(m["agreement"] * CELLS)
    cells = fmt(m["agreement"], wilson_interval(agreed, CELLS))
    if arm == "shipped":
        frames, seconds, fresh = "0", "-", "-"
    else:
        metrics = [json.loads(line) for line in open(f"runs/lever-{arm}/metrics.jsonl")]
        last = metrics[-1]
        frames, seconds = f"{last['frames']:,}", f"{last['train_seconds']:.0f}"
        mean = sum(r["fresh_agreement"] for r in metrics) / len(metrics)
        fresh = f"{last['fresh_agreement']:.3f} ({mean:.3f})"
        if "fresh_agreement_sampled" in last and last["greedy_steps"]:
            fresh += (f" (sampled {last['fresh_agreement_sampled']:.3f}, greedy "
                      f"{last['fresh_agreement_greedy']:.3f})")
    cols = [arm, frames, seconds, cells, fresh]
    for k in ("greedy", "sampled"):
        cell = fmt(m[k]["cheese_rate"], m[k]["cheese_ci"])
        if base and arm != "baseline":
            c = paired_comparison(base[k], result[k])
            cell += f"; {c.difference:+.3f} (p {c.mcnemar_p:.2g})"
        cols.append(cell)
    cols.append(f"{m['greedy']['timeout_rate']:.3f} / {m['sampled']['timeout_rate']:.3f}")
    rows.append("| " + " | ".join(cols) + " |")
print("| arm | labelled frames | train seconds | agreement at every cell (8,346 cells) "
      "| fresh agreement, last round (mean of rounds) "
      "| greedy cheese [95% CI]; vs baseline (McNemar p) "
      "| sampled cheese [95% CI]; vs baseline (McNemar p) | timeouts greedy / sampled |")
print("|---|---|---|---|---|---|---|---|")
print("\n".join(rows))
