"""Run every experiment of the report and write it: ``OUT/report.md``, the numbers in
``OUT/results/*.json`` and the figures in ``OUT/figures/*.png``.

Example:
    >>> import tempfile, pathlib, contextlib, io
    >>> from mazepolicy.models.checkpoint import save_policy
    >>> from mazepolicy.models.impala import ImpalaPolicy
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> save_policy(ImpalaPolicy(), folder / "p.safetensors", {"env": "maze-topright-5-easy"})
    >>> config = ReportConfig.preset("smoke", policy=str(folder / "p.safetensors"),
    ...                              env="maze-anywhere-easy")
    >>> with contextlib.redirect_stderr(io.StringIO()):
    ...     results = run_report(config, folder / "out", progress=False)
    >>> (folder / "out" / "report.md").is_file(), sorted(results)[:3]
    (True, ['channels', 'cheese_vector', 'meta'])
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import mazepolicy
from mazepolicy.agents.policy import load_network, weights_sha256
from mazepolicy.io import atomic_write_text, check_output_dir, json_dumps
from mazepolicy.models.checkpoint import git_sha
from mazepolicy.report import experiments
from mazepolicy.report.config import EXPERIMENTS, ReportConfig
from mazepolicy.report.markdown import report_markdown


def run_report(config: ReportConfig, out: str | Path, progress: bool = True,
               command: str | None = None, notes: str | Path | None = None,
               sae: str | Path | None = None, only: tuple[str, ...] | None = None,
               resume: bool = False) -> dict:
    """Run sections 1-6 on ``config`` and write the report into ``out``; returns the
    results (also in ``out/results``). ``command`` is what the report says made it;
    ``notes`` and ``sae`` as for :func:`render_report`.

    Each section's results are written (atomically) to ``out/results/NAME.json`` as
    soon as it is measured, and ``out/results/meta.json`` lists the sections done, so
    a report that stops part-way keeps them: ``resume`` runs only the sections not done
    yet (same ``config`` and weights). ``only``: re-run just these sections of a
    finished report made with the same ``config`` (the others are read from
    ``out/results``; the report lists the re-run and its command)."""
    out = check_output_dir(out, "--out")
    results_dir = out / "results"
    unknown = set(only or ()) - set(EXPERIMENTS)
    if unknown:
        raise ValueError(f"unknown report sections {sorted(unknown)}; choose from "
                         f"{list(EXPERIMENTS)}")
    if only and resume:
        raise ValueError("--only re-runs sections of a finished report, --resume finishes "
                         "a stopped one: give one of them")
    digests = {"policy_sha256": weights_sha256(config.policy),
               "control_sha256": weights_sha256(config.control) if config.control else None}
    run = {"command": command or f"mazepolicy.report.run_report({config!r})",
           "version": mazepolicy.__version__, "git_sha": git_sha(),
           "machine": f"{platform.machine()}, {os.cpu_count()} cores ({platform.system()})",
           "seconds": 0.0}
    if only or resume:
        meta, todo = _continued_meta(out, config, tuple(only or ()), digests, run)
    else:
        todo = EXPERIMENTS
        meta = {**run, "config": config.to_dict(), "policy": config.policy,
                "control": config.control, **digests, "sections_done": [],
                "section_seconds": {}}
    results = {name: _read_json(results_dir / f"{name}.json", "re-run the report whole")
               for name in EXPERIMENTS if name not in todo}
    policies = _load_policies(config)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    for name in todo:
        start = time.perf_counter()
        results[name] = _run_section(name, policies, config, out / "figures", progress,
                                     results)
        atomic_write_text(results_dir / f"{name}.json", json_dumps(results[name], indent=1))
        _record_section(meta, run, name, time.perf_counter() - start, rerun=bool(only))
        atomic_write_text(results_dir / "meta.json", json_dumps(meta, indent=1))
    results["meta"] = meta
    atomic_write_text(results_dir / "meta.json", json_dumps(meta, indent=1))
    render_report(out, notes, sae)
    return results


def _continued_meta(out: Path, config: ReportConfig, only: tuple[str, ...], digests: dict,
                    run: dict) -> tuple[dict, tuple[str, ...]]:
    """The stored ``meta`` of the report in ``out``, with ``run`` (this command) listed in
    its ``reruns``, and the sections to run: ``only`` (a re-run of a finished report) or
    else the sections not measured yet (a resumed report)."""
    meta = _read_json(out / "results" / "meta.json", "run the whole report first")
    _check_rerun_settings(meta, config, only, out, digests)
    missing = _missing(set(meta.get("sections_done", EXPERIMENTS)))
    if only and missing:
        raise ValueError(f"{out} is not finished (not measured yet: {', '.join(missing)}); "
                         "finish it with --resume first")
    todo = only or missing
    run.update(sections=[], **({} if only else {"resumed": True}))
    if todo:
        meta.setdefault("reruns", []).append(run)
    if only:
        meta["config"]["control"] = meta["control"] = config.control
        meta["control_sha256"] = digests["control_sha256"]
    return meta, todo


def _missing(done: set[str]) -> tuple[str, ...]:
    """The report's sections not in ``done``, in report order."""
    return tuple(name for name in EXPERIMENTS if name not in done)


def _load_policies(config: ReportConfig) -> dict:
    """The policy (its hook names checked) and, with ``config.control``, the control."""
    policy = load_network(config.policy)
    policy.check_hook_names([config.layer, *(config.sweep_layers or ())])
    policies = {"policy": policy}
    if config.control:
        policies["control"] = load_network(config.control)
    return policies


def _record_section(meta: dict, run: dict, name: str, seconds: float, rerun: bool) -> None:
    """Note in ``meta`` that section ``name`` was measured in ``seconds`` by ``run`` (the
    first run or a resumed one: ``meta``'s ``sections_done`` and total ``seconds``; a
    re-run: only its own entry)."""
    run["seconds"] += seconds
    if "sections" in run:
        run["sections"].append(name)
    if rerun:
        return
    meta["section_seconds"][name] = seconds
    meta["sections_done"] = [s for s in EXPERIMENTS if s in {*meta["sections_done"], name}]
    meta["seconds"] = sum(meta["section_seconds"].values())


def _check_rerun_settings(meta: dict, config: ReportConfig, only: tuple[str, ...],
                          out: Path, digests: dict) -> None:
    """A re-run keeps the report's settings and the policy's weights (``digests``:
    their SHA-256, as the report records them), except that re-running section 1 (the
    only one that reads the control) may add, change or drop the control policy."""
    stored, wanted = meta["config"], json.loads(json_dumps(config.to_dict()))
    if {**stored, "control": None} != {**wanted, "control": None}:
        raise ValueError(f"{out} was made with other settings; re-run it whole")
    if meta.get("policy_sha256", digests["policy_sha256"]) != digests["policy_sha256"]:
        raise ValueError(f"{out} was made with other weights of {config.policy} (SHA-256 "
                         f"{meta['policy_sha256'][:12]}..., now "
                         f"{digests['policy_sha256'][:12]}...); re-run it whole")
    if stored["control"] != wanted["control"] and "misgeneralization" not in only:
        raise ValueError(f"{out} was made with control {stored['control']!r}: give the same "
                         "--control, or re-run the misgeneralization section (the only one "
                         "that reads the control) with --only to change it")


def _run_section(name: str, policies: dict, config: ReportConfig, figures: Path,
                 progress: bool, results: dict) -> dict:
    """One experiment of the report; retargeting clamps the channel that tracks the
    cheese best in ``results["channels"]``."""
    policy = policies["policy"]
    if name == "misgeneralization":
        return experiments.misgeneralization(policies, config, figures, progress)
    if name == "cheese_vector":
        return experiments.cheese_vector_section(policy, config, figures, progress)
    if name == "top_right":
        return experiments.top_right_section(policy, config, figures, progress)
    if name == "channels":
        return experiments.channels_section(policy, config, figures)
    if name == "retargeting":
        scores = results["channels"]["scores"]
        strongest = max(range(len(scores)), key=scores.__getitem__)
        return experiments.retargeting_section(policy, config, strongest, figures, progress)
    return experiments.vector_fields_section(policy, config, figures)


def render_report(out: str | Path, notes: str | Path | None = None,
                  sae: str | Path | None = None) -> Path:
    """Write ``out/report.md`` from ``out/results/*.json`` (no experiment reruns), with
    the Markdown file ``notes`` appended: the discussion a person writes from the
    numbers, e.g. why each differs from the research. ``sae``: the JSON of
    ``mazepolicy sae analyze``, kept as ``results/sae.json`` and rendered as section 7
    (from then on, also without ``sae``)."""
    out = Path(out)
    if sae is not None:
        analysis = _read_json(Path(sae), "run `mazepolicy sae analyze` first")
        if not isinstance(analysis, dict) or not analysis.get("results"):
            raise ValueError(f"{sae} is not the output of `mazepolicy sae analyze`")
        analysis["figures"] = [os.path.relpath(f, out) for f in analysis.get("figures", [])]
        atomic_write_text(out / "results" / "sae.json", json_dumps(analysis, indent=1))
    meta = _read_json(out / "results" / "meta.json", "run the report first")
    missing = _missing(set(meta.get("sections_done", EXPERIMENTS)))
    if missing:
        raise ValueError(f"{out} is not finished (not measured yet: {', '.join(missing)}); "
                         "finish it by running the same report command with --resume")
    results = {name: _read_json(out / "results" / f"{name}.json", "run the report first")
               for name in EXPERIMENTS}
    results["meta"] = meta
    if (out / "results" / "sae.json").exists():
        results["sae"] = _read_json(out / "results" / "sae.json", "")
    text = report_markdown(results, "figures")
    if notes is not None:
        try:
            text += "\n" + Path(notes).read_text()
        except OSError as err:
            raise ValueError(f"cannot read the notes {notes}: {err}") from None
    atomic_write_text(out / "report.md", text)
    return out / "report.md"


def _read_json(path: Path, hint: str):
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read {path} ({err}); {hint}") from None
