"""``switchboard pii``: commands about the PII detector."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from services.pii.config import DEFAULT_EVAL_DATA, PiiSettings
from services.pii.context import context_path
from services.pii.detector import Detector
from services.pii.evaluation import Sample, evaluate, load_samples, select
from services.pii.tagger import DEFAULT_CLASSES, DEFAULT_MODEL, SequenceTagger
from services.pii.training import (
    DEFAULT_BACKGROUND,
    DEFAULT_BACKGROUND_COUNT,
    DEFAULT_C1,
    DEFAULT_C2,
    DEFAULT_CONTEXT_C,
    DEFAULT_CONTEXT_INT8,
    DEFAULT_ITERATIONS,
    DEFAULT_SYNTHETIC,
    TrainingParameters,
    build_word_classes,
    cross_validate,
    load_background,
    save_word_classes,
    train,
)

pii = click.Group("pii", help="The PII detector: evaluation and training of its tagger.")


def _detector(settings: PiiSettings, tagger_model: Path | None) -> Detector:
    """The service's detector with every type reported, as the evaluation needs."""
    return Detector(
        phone_regions=tuple(settings.phone_regions),
        patterns=tuple(settings.patterns),
        organizations=tuple(settings.organizations),
        min_score=settings.min_score,
        types=None,
        tagger_model=tagger_model,
    )


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


#: --data, shared by eval, train and cv
_data_option = click.option(
    "--data",
    "data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=DEFAULT_EVAL_DATA,
    show_default=True,
    help="the Presidio synthetic dataset (synth_dataset_v2.json)",
)


@pii.command("eval")
@_data_option
@click.option(
    "--split",
    type=click.Choice(["test", "validation", "all"]),
    default="test",
    show_default=True,
    help="held-out test (70% of templates), validation (30%, used for development) or all",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="score the first N only")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.option(
    "--model",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=DEFAULT_MODEL,
    show_default=True,
    help="the sequence tagger's model",
)
@click.option("--no-tagger", is_flag=True, help="score the rule recognisers alone")
@click.option(
    "--no-context",
    is_flag=True,
    help="tag without the contextual read-out, as the service does for tool results",
)
def eval_command(
    data: Path,
    split: str,
    limit: int | None,
    as_json: bool,
    model: Path,
    no_tagger: bool,
    no_context: bool,
) -> None:
    """Score the detector: precision, recall and F2 (IoU >= 0.9), per entity type and overall."""
    samples = select(load_samples(data), split)  # type: ignore[arg-type]
    if limit is not None:
        samples = samples[:limit]
    # Every type the detector knows is scored, as upstream scores every label; the "in scope"
    # line is what the service masks by default.
    detector = _detector(PiiSettings(), None if no_tagger else model)
    result = evaluate(detector, samples, split, context=not no_context).as_dict()
    click.echo(json.dumps(result, indent=2) if as_json else _format(result))


def _training_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options ``train`` and ``cv`` share: data, CRF weights, background texts."""
    options = [
        _data_option,
        click.option("--c1", type=click.FloatRange(min=0.0), default=DEFAULT_C1, show_default=True),
        click.option("--c2", type=click.FloatRange(min=0.0), default=DEFAULT_C2, show_default=True),
        click.option(
            "--iterations",
            type=click.IntRange(min=1),
            default=DEFAULT_ITERATIONS,
            show_default=True,
        ),
        click.option(
            "--background",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            default=DEFAULT_BACKGROUND,
            show_default=True,
            help="a CSV of customer-service texts (column 'text') labelled by the rules alone",
        ),
        click.option(
            "--background-count",
            type=click.IntRange(min=0),
            default=DEFAULT_BACKGROUND_COUNT,
            show_default=True,
            help="how many background texts to use (0: none)",
        ),
        click.option(
            "--context-c",
            type=click.FloatRange(min=0.0, min_open=True),
            default=DEFAULT_CONTEXT_C,
            show_default=True,
            help="inverse L2 weight of the contextual read-out (MiniLM's layer 4)",
        ),
        click.option(
            "--no-context",
            is_flag=True,
            help="train without the contextual read-out (the CRF's own features only)",
        ),
        click.option(
            "--synthetic",
            type=click.IntRange(min=0),
            default=DEFAULT_SYNTHETIC,
            show_default=True,
            help="how many generated texts of our own templates to train on as well (0: none)",
        ),
        click.option("--synthetic-seed", type=click.IntRange(min=0), default=0, show_default=True),
        click.option(
            "--context-int8/--context-float",
            default=DEFAULT_CONTEXT_INT8,
            show_default=True,
            help="run the read-out's encoder with int8 or float weight products",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@pii.command("train")
@_training_options
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_MODEL,
    show_default=True,
    help="where to write the model",
)
@click.option(
    "--classes-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_CLASSES,
    show_default=True,
    help="where to write the word classes (the tagger reads the shipped ones)",
)
def train_command(
    data: Path,
    out: Path,
    classes_out: Path,
    c1: float,
    c2: float,
    iterations: int,
    background: Path,
    background_count: int,
    context_c: float,
    no_context: bool,
    context_int8: bool,
    synthetic: int,
    synthetic_seed: int,
) -> None:
    """Rebuild the word classes and the sequence tagger (validation split, never the test split).

    The classes come first: the tagger's features read them.
    """
    classes = build_word_classes()
    save_word_classes(classes, classes_out)
    samples = select(load_samples(data), "validation")
    texts = load_background(background, background_count)
    rules = _detector(PiiSettings(), None)
    parameters = _parameters(c1, c2, iterations, context_c, no_context, context_int8)
    generated = _synthetic(synthetic, synthetic_seed)
    model = train([*samples, *generated], rules, parameters, texts)
    model.save(out)
    labels = SequenceTagger.load(out).labels
    read_out = (
        "no contextual read-out"
        if model.read_out is None
        else f"contextual read-out ({len(model.read_out.classes)} types) -> {context_path(out)}"
    )
    click.echo(
        f"trained on {len(samples)} validation samples, {len(generated)} generated samples and "
        f"{len(texts)} background texts: "
        f"{len(model.crf)} bytes, {len(labels)} labels -> {out}; {read_out}; "
        f"{int(classes.max()) + 1} word classes -> {classes_out}"
    )


def _synthetic(count: int, seed: int) -> list[Sample]:
    """``count`` generated samples; the generator needs Faker, a development dependency."""
    if count == 0:
        return []
    try:
        from services.pii.synthetic import generate
    except ModuleNotFoundError as error:
        raise click.ClickException(
            f"--synthetic needs the development dependencies ({error.name} is missing): make setup"
        ) from error
    return generate(count, seed=seed)


def _parameters(
    c1: float, c2: float, iterations: int, context_c: float, no_context: bool, context_int8: bool
) -> TrainingParameters:
    return TrainingParameters(
        c1=c1,
        c2=c2,
        max_iterations=iterations,
        context_c=None if no_context else context_c,
        context_int8=context_int8,
    )


@pii.command("cv")
@_training_options
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="which assignment of templates to folds",
)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def cv_command(
    data: Path,
    c1: float,
    c2: float,
    iterations: int,
    background: Path,
    background_count: int,
    context_c: float,
    no_context: bool,
    context_int8: bool,
    synthetic: int,
    synthetic_seed: int,
    folds: int,
    seed: int,
    as_json: bool,
) -> None:
    """Cross-validate the tagger by template inside the validation split (how it was tuned)."""
    samples = select(load_samples(data), "validation")
    texts = load_background(background, background_count)
    rules = _detector(PiiSettings(), None)
    parameters = _parameters(c1, c2, iterations, context_c, no_context, context_int8)
    report = cross_validate(
        samples,
        rules,
        parameters,
        texts,
        folds=folds,
        seed=seed,
        extra=_synthetic(synthetic, synthetic_seed),
    )
    result = report.as_dict()
    click.echo(json.dumps(result, indent=2) if as_json else _format(result))
