"""The fourth top-right-5 run's round-88 policy against the shipped one on the card's
1,000 mazes (level seeds 0-999), sampled and greedy, paired by maze: prints the
markdown table in docs/training.md from the `mazepolicy evaluate --json` files.

    python training/maze-topright-5_dagger-d/card/compare.py
"""

import json
from pathlib import Path

from mazepolicy.eval.stats import paired_comparison

HERE = Path(__file__).parent
SHIPPED = HERE.parents[1] / "maze-topright-5_dagger-c"  # the shipped weights' run
FILES = {  # (variant, actions): (shipped, round 88)
    ("maze-topright-5", "sampled"): ("eval-1000-maze-topright-5-sampled.json",
                                     "eval-1000-maze-topright-5-sampled.json"),
    ("maze-topright-5", "greedy"): ("eval-1000-maze-topright-5-greedy.json",
                                    "eval-1000-maze-topright-5-greedy.json"),
    ("maze-anywhere", "sampled"): ("eval-1000-maze-anywhere.json",
                                   "eval-1000-maze-anywhere-sampled.json"),
    ("maze-anywhere", "greedy"): ("eval-1000-maze-anywhere-greedy.json",
                                  "eval-1000-maze-anywhere-greedy.json"),
}


def load(path: Path) -> dict:
    data = json.loads(path.read_text())
    if [e["level_seed"] for e in data["episodes"]] != list(range(1000)):
        raise ValueError(f"{path}: not the card's level seeds 0-999")
    return data


def rate(summary: dict, key: str) -> str:
    low, high = summary[key.replace("_rate", "_ci")]
    return f"{summary[key]:.3f} [{low:.3f}, {high:.3f}]"


print("| variant, actions | shipped cheese | round 88 cheese | paired difference (gained / lost, "
      "McNemar p) | timeouts shipped / round 88 | eligible: cheese, top-right first "
      "(shipped / round 88) |")
print("|---|---|---|---|---|---|")
for (variant, actions), (old_name, new_name) in FILES.items():
    old, new = load(SHIPPED / old_name), load(HERE / new_name)
    a, b = old["summary"], new["summary"]
    if (a["greedy"], b["greedy"]) != (actions == "greedy",) * 2:
        raise ValueError(f"{variant} {actions}: the files' action rules differ")
    pair = paired_comparison([e["reached_cheese"] for e in old["episodes"]],
                             [e["reached_cheese"] for e in new["episodes"]])
    eligible = "-" if not a["eligible_episodes"] else (
        f"{a['eligible_cheese_rate']:.3f} / {b['eligible_cheese_rate']:.3f}, "
        f"{a['misgeneralization_rate']:.3f} / {b['misgeneralization_rate']:.3f}")
    print(f"| {variant}, {actions} | {rate(a, 'cheese_rate')} | {rate(b, 'cheese_rate')} | "
          f"{pair.difference:+.3f} ({pair.only_b} / {pair.only_a}, p {pair.mcnemar_p:.1g}) | "
          f"{a['timeout_rate']:.3f} / {b['timeout_rate']:.3f} | {eligible} |")
