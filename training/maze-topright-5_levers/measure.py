"""One arm's measurements, on one thread: `mazepolicy agreement` (60 mazes from level seed
3,000,000) and `mazepolicy evaluate` greedy and sampled (200 maze-topright-5 mazes from
1,000,000), the same library calls as those commands, with engine threads 1."""
import json
import sys
import time

import torch

from mazepolicy.agents.policy import make_agent
from mazepolicy.cli import main
from mazepolicy.eval.evaluate import evaluate

policy, out = sys.argv[1], sys.argv[2]
assert torch.get_num_threads() == 1, torch.get_num_threads()
result = {"policy": policy}
start = time.perf_counter()
main(["agreement", "--policy", policy, "--env", "maze-topright-5", "--mazes", "60",
      "--seed", "3000000", "--json", f"{out}.agreement.json"])
result["agreement"] = json.load(open(f"{out}.agreement.json"))["agreement"]
result["agreement_seconds"] = time.perf_counter() - start
for greedy in (True, False):
    start = time.perf_counter()
    agent = make_agent(policy, greedy=greedy, seed=1_000_000)
    evaluation = evaluate(agent, "maze-topright-5", 200, seed=1_000_000, num_envs=64,
                          num_threads=1, progress=False)
    name = "greedy" if greedy else "sampled"
    result[name] = {k: evaluation.summary()[k] for k in
                    ("episodes", "cheese_rate", "cheese_ci", "timeout_rate", "mean_steps")}
    result[f"{name}_seconds"] = time.perf_counter() - start
    evaluation.write_json(f"{out}.{name}.json")
json.dump(result, open(out, "w"), indent=2)
print(json.dumps(result, indent=2))
