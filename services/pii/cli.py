"""``switchboard pii``: commands about the PII detector."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from services.pii.config import DEFAULT_EVAL_DATA, PiiSettings
from services.pii.evaluation import evaluate, load_samples, select
from services.pii.service import build_detector

pii = click.Group("pii", help="The PII detector: evaluation.")


def _format(result: dict[str, Any]) -> str:
    lines = [
        f"split {result['split']}: {result['samples']} samples, "
        f"{result['annotated']} gold spans, {result['predicted']} predicted "
        f"(IoU >= {result['iou_threshold']}, entity type ignored)",
        "",
        f"{'entity':<18}{'precision':>10}{'recall':>10}{'F2':>10}{'gold':>8}{'pred':>8}",
    ]
    for label, row in result["per_entity"].items():
        lines.append(
            f"{label:<18}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f2']:>10.3f}"
            f"{row['annotated']:>8}{row['predicted']:>8}"
        )
    scope = result["in_scope"]
    latency = result["latency_ms"]
    lines += [
        "",
        f"{'PII (overall)':<18}{result['precision']:>10.3f}{result['recall']:>10.3f}"
        f"{result['f2']:>10.3f}",
        f"{'PII (in scope)':<18}{scope['precision']:>10.3f}{scope['recall']:>10.3f}"
        f"{scope['f2']:>10.3f}",
        f"exact-span F1 {result['exact_f1']:.3f} (precision {result['exact_precision']:.3f}, "
        f"recall {result['exact_recall']:.3f})",
        f"latency per text: p50 {latency['p50']:.2f} ms, p99 {latency['p99']:.2f} ms",
    ]
    return "\n".join(lines)


@pii.command("eval")
@click.option(
    "--data",
    "data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=DEFAULT_EVAL_DATA,
    show_default=True,
    help="the Presidio synthetic dataset (synth_dataset_v2.json)",
)
@click.option(
    "--split",
    type=click.Choice(["test", "validation", "all"]),
    default="test",
    show_default=True,
    help="held-out test (70% of templates), validation (30%, used for development) or all",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="score the first N only")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def eval_command(data: Path, split: str, limit: int | None, as_json: bool) -> None:
    """Score the detector: precision, recall and F2 (IoU >= 0.9), per entity type and overall."""
    samples = select(load_samples(data), split)  # type: ignore[arg-type]
    if limit is not None:
        samples = samples[:limit]
    # Every type the detector knows is scored, as upstream scores every label; the "in scope"
    # line is what the service masks by default.
    detector = build_detector(PiiSettings(), every_type=True)
    result = evaluate(detector, samples, split).as_dict()
    click.echo(json.dumps(result, indent=2) if as_json else _format(result))
