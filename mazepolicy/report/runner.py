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
from mazepolicy.io import atomic_write_text, json_dumps
from mazepolicy.models.checkpoint import git_sha
from mazepolicy.report import experiments
from mazepolicy.report.config import EXPERIMENTS, ReportConfig
from mazepolicy.report.markdown import report_markdown

SECTIONS = (*EXPERIMENTS, "meta")


def run_report(config: ReportConfig, out: str | Path, progress: bool = True,
               command: str | None = None, notes: str | Path | None = None,
               sae: str | Path | None = None, only: tuple[str, ...] | None = None) -> dict:
    """Run sections 1-6 on ``config`` and write the report into ``out``; returns the
    results (also in ``out/results``). ``command`` is what the report says made it;
    ``notes`` and ``sae`` as for :func:`render_report`. ``only``: re-run just these
    sections of an existing report made with the same ``config`` (the others are read
    from ``out/results``; the report lists the re-run and its command)."""
    out = Path(out)
    figures, results_dir = out / "figures", out / "results"
    unknown = set(only or ()) - set(EXPERIMENTS)
    if unknown:
        raise ValueError(f"unknown report sections {sorted(unknown)}; choose from "
                         f"{list(EXPERIMENTS)}")
    results = {}
    digests = {"policy_sha256": weights_sha256(config.policy),
               "control_sha256": weights_sha256(config.control) if config.control else None}
    if only:
        results = {name: _read_json(results_dir / f"{name}.json", "run the whole report "
                                    "first") for name in SECTIONS}
        _check_rerun_settings(results["meta"], config, only, out, digests)
    figures.mkdir(parents=True, exist_ok=True)
    policy = load_network(config.policy)
    policy.check_hook_names([config.layer, *(config.sweep_layers or ())])
    policies = {"policy": policy}
    if config.control:
        policies["control"] = load_network(config.control)
    start = time.perf_counter()
    for name in EXPERIMENTS:
        if not only or name in only:
            results[name] = _run_section(name, policies, config, figures, progress, results)
    run = {"command": command or f"mazepolicy.report.run_report({config!r})",
           "version": mazepolicy.__version__, "git_sha": git_sha(),
           "machine": f"{platform.machine()}, {os.cpu_count()} cores ({platform.system()})",
           "seconds": time.perf_counter() - start}
    if only:
        results["meta"].setdefault("reruns", []).append({**run, "sections": list(only)})
        results["meta"]["config"]["control"] = results["meta"]["control"] = config.control
        results["meta"]["control_sha256"] = digests["control_sha256"]
    else:
        results["meta"] = {**run, "config": config.to_dict(), "policy": config.policy,
                           "control": config.control, **digests}
    for name in (*(only or EXPERIMENTS), "meta"):
        atomic_write_text(results_dir / f"{name}.json", json_dumps(results[name], indent=1))
    render_report(out, notes, sae)
    return results


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
        raise ValueError(f"{out} was made with control {stored['control']!r}: only the "
                         "misgeneralization section reads the control, so re-run it to "
                         "change the control")


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
    results = {name: _read_json(out / "results" / f"{name}.json", "run the report first")
               for name in SECTIONS}
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
