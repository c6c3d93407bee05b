"""Intent classifier on CLINC150 (data_full) and BANKING77, full splits.

    .venv/bin/python benchmarks/intents_eval.py                       # both datasets
    .venv/bin/python benchmarks/intents_eval.py --dataset clinc150
    .venv/bin/python benchmarks/intents_eval.py --data-dir ../shared/data
    .venv/bin/python benchmarks/intents_eval.py --refit-on-validation  # final model on train+val
    .venv/bin/python benchmarks/intents_eval.py --deep    # the MiniLM -> MPNet cascade (make deep)

Same protocol as ``switchboard intents eval`` (train on train, temperature and out-of-scope
threshold on validation only, every test utterance classified on its own and timed on one
thread). With ``--refit-on-validation`` the model is retrained on train + validation once
validation has fixed the temperature and the threshold. Prints each dataset's table in the
layout of Larson et al. 2019, Table 2, next to the published rows of data/BASELINES.md, and
ends with one JSON line. Takes a few minutes: most of it is encoding ~25,000 utterances with
MiniLM and fitting the logistic regression. ``--deep`` scores the cascade of
services/intents/cascade.py instead, at its own operating rule (OOS recall >= 90 % on validation);
it also encodes every utterance with all-mpnet-base-v2 (about ten more minutes on one core).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from services.intents.datasets import DATASETS, DEFAULT_DATA_DIR
from services.intents.evaluation import DATASET_RULE, DEEP_RULE, evaluate, format_table
from services.intents.features import LayerPoolingEncoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=DATASETS, action="append")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--refit-on-validation", action="store_true")
    parser.add_argument("--deep", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f}s] {message}", file=sys.stderr, flush=True)

    # The cascade runs both encoders in int8, as `switchboard intents eval --deep` does.
    encoder = LayerPoolingEncoder(int8=args.deep)
    deep = None
    if args.deep:
        from services.intents.mpnet import MPNetLayerPooling

        deep = MPNetLayerPooling(int8=True)
    results = {}
    for name in args.dataset or list(DATASETS):
        report = evaluate(
            name,
            args.data_dir,
            encoder=encoder,
            refit_on_validation=args.refit_on_validation,
            deep=deep,
            rule=DEEP_RULE if deep is not None else DATASET_RULE,
            progress=progress,
        )
        print(format_table(report), end="\n\n", flush=True)
        results[name] = report.to_json()
    print(json.dumps({"bench": "intents_eval", **results}))


if __name__ == "__main__":
    main()
