"""``mazepolicy sae collect|train|analyze``: sparse autoencoders on a policy's layer.

Example:
    mazepolicy sae collect --policy maze-topright-5_impala-s1 --mazes 300 --out sae/acts
    mazepolicy sae collect --policy maze-topright-5_impala-s1 --mazes 50 --seed 100000 \\
        --out sae/heldout
    mazepolicy sae train --acts sae/acts --expansion 4 --kind topk --k 8 --out sae/x4
    mazepolicy sae analyze --policy maze-topright-5_impala-s1 --sae sae/x1 sae/x4 \\
        --heldout sae/heldout --json sae/analysis.json --figures sae/figures
"""

from __future__ import annotations

import argparse

from mazepolicy.commands.common import (
    DEFAULT_LAYER,
    distinct,
    finite_float,
    nonnegative_int,
    positive_int,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION",
                                help="collect, train or analyze (each has its own --help)")
    fmt = parser.formatter_class  # the command line's: each default shown once
    collect = sub.add_parser("collect", help="store activations of mazes in shards",
                             formatter_class=fmt)
    collect.add_argument("--policy", required=True, help="shipped name or .safetensors path")
    collect.add_argument("--layer", nargs="+", default=[DEFAULT_LAYER], help="hook point(s)")
    collect.add_argument("--env", default="maze-anywhere", help="env variant of the mazes")
    collect.add_argument("--mazes", type=positive_int, default=300, help="level seeds")
    collect.add_argument("--seed", type=nonnegative_int, default=0, help="first level seed")
    collect.add_argument("--positions-per-maze", type=positive_int, default=16,
                         help="mouse cells per maze (a seeded sample of its free cells)")
    collect.add_argument("--shard-size", type=positive_int, default=2048, help="frames/shard")
    collect.add_argument("--out", required=True, help="new folder for the shards")
    train = sub.add_parser("train", help="train an SAE on collected activations",
                           formatter_class=fmt)
    train.add_argument("--acts", required=True, help="folder of `sae collect`")
    train.add_argument("--layer", default=DEFAULT_LAYER, help="collected hook point")
    train.add_argument("--layout", choices=["position", "map"], default="position",
                       help="one sample per spatial position (C dims) or per map (C*H*W)")
    train.add_argument("--kind", choices=["topk", "relu"], default="topk",
                       help="TopK or ReLU + L1")
    train.add_argument("--expansion", type=positive_int, default=4,
                       help="features per input dimension")
    train.add_argument("--k", type=positive_int, default=8, help="active features (topk)")
    train.add_argument("--l1", type=float, default=1e-3, help="L1 coefficient (relu)")
    train.add_argument("--steps", type=positive_int, default=5000, help="optimizer steps")
    train.add_argument("--batch-size", type=positive_int, default=1024, help="samples/step")
    train.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    train.add_argument("--seed", type=nonnegative_int, default=0, help="init and batch order")
    train.add_argument("--out", required=True, help="folder for the SAE")
    train.add_argument("--resume", action="store_true", help="continue the SAE in --out")
    analyze = sub.add_parser("analyze", help="measure trained SAEs on held-out mazes",
                             formatter_class=fmt)
    analyze.add_argument("--policy", required=True, help="the policy the SAE was trained on")
    analyze.add_argument("--sae", nargs="+", required=True, help="SAE folder(s)")
    analyze.add_argument("--heldout", required=True,
                         help="activations collected on other level seeds")
    analyze.add_argument("--env", default="maze-anywhere", help="variant of the rollouts")
    analyze.add_argument("--episodes", type=positive_int, default=100,
                         help="rollouts, spliced and not, on the held-out seeds")
    analyze.add_argument("--max-steps", type=positive_int, default=500, help="episode cap")
    analyze.add_argument("--retarget-mazes", type=nonnegative_int, default=20,
                         help="mazes of the feature/channel/vector retargeting comparison "
                              "(0: skip it)")
    analyze.add_argument("--targets-per-maze", type=positive_int, default=4,
                         help="random target cells per retargeting maze")
    analyze.add_argument("--retarget-max-steps", type=positive_int, default=100,
                         help="steps to reach a retargeting target")
    analyze.add_argument("--clamp-ratios", type=finite_float, nargs="+", metavar="RATIO",
                         help="also sweep both clamps over these multiples of their mean "
                              "activation at the cheese (e.g. 1 2 5.5 10 20; default: none)")
    analyze.add_argument("--json", required=True, help="write the results here: the "
                         "command, one entry per SAE and the figures' paths")
    analyze.add_argument("--figures", help="folder for figures: feature maps, retargeting "
                                           "by distance, and the sweep over dictionary sizes")
    for p in (collect, train, analyze):
        p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def run(args: argparse.Namespace) -> int:
    return {"collect": _collect, "train": _train, "analyze": _analyze}[args.action](args)


def _collect(args) -> int:
    from mazepolicy.agents.policy import load_network, weights_sha256
    from mazepolicy.envs.variants import load_variant
    from mazepolicy.interp.sae.activations import collect_activations
    from mazepolicy.io import check_output_dir

    check_output_dir(args.out, "--out")
    load_variant(args.env)
    policy = load_network(args.policy)
    manifest = collect_activations(policy, args.layer, args.out, args.env, args.mazes,
                                   seed=args.seed, positions_per_maze=args.positions_per_maze,
                                   shard_size=args.shard_size, progress=not args.no_progress,
                                   policy_name=args.policy,
                                   policy_sha256=weights_sha256(args.policy))
    print(f"wrote {manifest['frames']:,} frames in {len(manifest['shards'])} shards to "
          f"{args.out}")
    return 0


def _train(args) -> int:
    import math

    from mazepolicy.interp.sae.activations import read_manifest
    from mazepolicy.interp.sae.model import SAEConfig
    from mazepolicy.interp.sae.train import shard_batches, train_sae
    from mazepolicy.io import check_output_dir, json_dumps

    check_output_dir(args.out, "--out")
    manifest = read_manifest(args.acts)
    if args.layer not in manifest["layers"]:
        raise ValueError(f"layer {args.layer!r} was not collected in {args.acts}; have "
                         f"{sorted(manifest['layers'])}")
    shape = manifest["layers"][args.layer]
    d_in = shape[0] if args.layout == "position" else math.prod(shape)
    config = SAEConfig(d_in=d_in, d_sae=args.expansion * d_in, kind=args.kind, k=args.k,
                       l1_coeff=args.l1, lr=args.lr, batch_size=args.batch_size,
                       steps=args.steps, seed=args.seed, layer=args.layer,
                       layout=args.layout)
    trained = train_sae(config, shard_batches(args.acts, args.layer, args.layout,
                                              args.batch_size, args.seed),
                        args.out, resume=args.resume, progress=not args.no_progress,
                        source={"activations": args.acts, "policy": manifest["policy"],
                                "policy_sha256": manifest.get("policy_sha256", "")})
    print(json_dumps(trained.card["history"][-1] if trained.card["history"] else {}))
    print(f"wrote {args.out}/sae.safetensors and sae.json")
    return 0


def _analyze(args) -> int:
    from mazepolicy.agents.policy import load_network, weights_sha256
    from mazepolicy.interp.sae.activations import check_same_policy, read_manifest
    from mazepolicy.interp.sae.analysis import analyze_sae, baseline_rollouts
    from mazepolicy.interp.sae.train import load_sae
    from mazepolicy.io import (
        atomic_write_text,
        check_output_dir,
        check_output_file,
        json_dumps,
        write_outputs,
    )

    check_output_file(args.json, "--json")
    distinct(args.sae, "--sae")
    if args.figures:
        check_output_dir(args.figures, "--figures")
    sha = weights_sha256(args.policy)
    heldout = read_manifest(args.heldout)
    saes = {folder: load_sae(folder) for folder in args.sae}
    check_same_policy(args.policy, sha, {f"held-out activations {args.heldout}": heldout,
                                          **{f"SAE {folder}": trained.card["source"]
                                             for folder, trained in saes.items()}})
    policy = load_network(args.policy)
    settings = dict(episodes=args.episodes, seed=heldout["seed"],
                    max_steps=args.max_steps, progress=not args.no_progress)
    baseline = baseline_rollouts(policy, args.env, **settings)  # shared by every SAE
    results = [analyze_sae(policy, folder, args.heldout, args.env, baseline=baseline,
                           retarget_mazes=args.retarget_mazes,
                           targets_per_maze=args.targets_per_maze,
                           retarget_max_steps=args.retarget_max_steps,
                           clamp_ratios=args.clamp_ratios or (), **settings)
               for folder in args.sae]
    for r in results:
        line = (f"{r['sae']}: FVE {r['reconstruction']['fraction_variance_explained']:.3f}, "
                f"L0 {r['reconstruction']['l0']:.1f}, KL {r['kl']['kl_spliced']:.4f}, "
                f"cheese {r['rollouts']['policy']['cheese_rate']:.3f} -> "
                f"{r['rollouts']['spliced']['cheese_rate']:.3f}")
        if "success" in r.get("retargeting", {}):
            line += "; reach target: " + ", ".join(
                f"{name} {rate['rate']:.2f}" for name, rate in r["retargeting"]["success"].items())
        print(line)
    figures = []
    writers = {}
    if args.figures:
        writers[args.figures] = lambda: figures.extend(
            str(p) for p in _figures(policy, results, saes, args.figures, args.env))
    writers[args.json] = lambda: atomic_write_text(args.json, json_dumps(
        {"command": _analyze_command(args), "policy_sha256": sha, "results": results,
         "figures": figures}, indent=1))
    try:
        write_outputs(writers)
    finally:
        for path in figures:
            print(f"wrote {path}")
    print(f"wrote {args.json}")
    return 0


def _analyze_command(args) -> str:
    """The ``sae analyze`` command line that ``args`` stand for."""
    import shlex

    words = ["mazepolicy", "sae", "analyze", "--policy", args.policy, "--sae", *args.sae,
             "--heldout", args.heldout, "--env", args.env, "--episodes", str(args.episodes),
             "--max-steps", str(args.max_steps), "--retarget-mazes", str(args.retarget_mazes),
             "--targets-per-maze", str(args.targets_per_maze), "--retarget-max-steps",
             str(args.retarget_max_steps)]
    if args.clamp_ratios:
        words += ["--clamp-ratios", *(f"{r:g}" for r in args.clamp_ratios)]
    words += ["--json", args.json]
    return shlex.join(words + (["--figures", args.figures] if args.figures else []))


def _figures(policy, results: list[dict], saes: dict, folder: str, env: str) -> list:
    """Per SAE: its most cheese-localising features' maps on the first held-out maze,
    retargeting by distance and the clamp sweep; across SAEs: the dictionary-size sweep.
    ``saes``: the loaded SAEs by folder, as ``results`` name them."""
    from pathlib import Path

    from mazepolicy.envs.frames import render_states
    from mazepolicy.envs.levels import level_states
    from mazepolicy.envs.variants import load_variant
    from mazepolicy.interp.sae.metrics import feature_maps
    from mazepolicy.interp.vectors import activations
    from mazepolicy.viz.charts import (
        plot_clamp_sweep,
        plot_dictionary_sweep,
        plot_rate_series,
    )
    from mazepolicy.viz.plots import plot_activation_maps

    out_dir = Path(folder)
    variant = load_variant(env)
    paths = []
    for r in results:
        if "localisation" not in r:
            continue
        name = Path(r["sae"]).name
        sae = saes[r["sae"]].model
        seed = r["seed"]
        state = next(s for s in level_states(range(seed, seed + 50), variant.placement(),
                                             variant.distribution_mode) if s.cheese_cell)
        maps = feature_maps(sae, activations(policy, [state], r["config"]["layer"]).cpu())
        top = [i for i, _ in r["localisation"]["cheese"]["top_features"][:4]]
        paths.append(plot_activation_maps(maps[0].numpy(), top, state,
                                          out_dir / f"{name}-cheese-features.png",
                                          frame=render_states([state])[0], name="feature"))
        rt = r.get("retargeting", {})
        if "by_distance" in rt:
            paths.append(plot_rate_series(
                rt["by_distance"], out_dir / f"{name}-retargeting-by-distance.png",
                "target's steps from the path to the top-right corner",
                f"P(reach target in {rt['max_steps']} steps)",
                f"{name}: feature {rt['feature']} vs channel {rt['channel']} clamps"))
        if "clamp_sweep" in rt:
            paths.append(plot_clamp_sweep(rt["clamp_sweep"],
                                          out_dir / f"{name}-clamp-sweep.png", name))
    if len(results) > 1:
        paths.append(plot_dictionary_sweep(results, out_dir / "dictionary-sweep.png"))
    return paths
