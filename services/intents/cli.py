"""``switchboard intents``: evaluate the intent classifier on the public datasets."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from services.intents.datasets import DATASETS, DEFAULT_DATA_DIR, DatasetError
from services.intents.evaluation import evaluate, format_table

intents = click.Group("intents", help="The local intent classifier.")


@intents.command("eval")
@click.option(
    "--dataset", type=click.Choice(DATASETS), required=True, help="which public dataset to score"
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA_DIR,
    show_default=True,
    help="folder holding clinc150/ and banking77/",
)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object (rates as fractions)")
@click.option(
    "--limit",
    type=click.IntRange(min=10),
    default=None,
    help="use at most N utterances of each split (a quick smoke run, not comparable)",
)
def eval_command(dataset: str, data_dir: Path, as_json: bool, limit: int | None) -> None:
    """Train on train, tune on validation, report test figures (Larson et al. 2019 layout)."""
    started = time.perf_counter()

    def progress(message: str) -> None:
        click.echo(f"[{time.perf_counter() - started:6.1f}s] {message}", err=True)

    try:
        report = evaluate(dataset, data_dir, limit, progress=progress)
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(report.to_json()))
    else:
        click.echo(format_table(report))
