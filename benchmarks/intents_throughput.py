"""Intent classification throughput: utterances/s and latency per utterance, shipped packs.

    .venv/bin/python benchmarks/intents_throughput.py                  # 1,000 utterances
    .venv/bin/python benchmarks/intents_throughput.py --count 5000 --batch 64

Trains the router's classifier on the shipped intent packs (packs/intents/*.yaml, the same
``IntentClassifier.from_packs`` the router calls; embeddings cached under --cache-dir so a rerun
skips encoding the examples), then classifies utterances one at a time as the router does
(``classify``: MiniLM in numpy on one BLAS thread, the multi-intent clause split included), and
once more in batches (``classify_batch``, as an offline evaluation would). The utterances are
the packs' own examples and out-of-scope messages, cycled to --count, plus a few two-intent
messages that take the clause split. The full accuracy evaluation on public datasets is
benchmarks/intents_eval.py (minutes). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from benchkit import summarize

from services.intents import IntentClassifier
from services.intents.packs import load_packs

ROOT = Path(__file__).resolve().parents[1]
MULTI = (
    "Is flight UA 123 on time and what is my loyalty balance?",
    "I want to check my claim status and also find a provider near me",
)


def utterances(packs_dir: Path, count: int) -> list[str]:
    texts: list[str] = []
    for pack in load_packs(packs_dir):
        for intent in pack.intents:
            texts.extend(str(example) for example in intent.examples)
        texts.extend(str(message) for message in pack.out_of_scope)
    texts.extend(MULTI * max(1, len(texts) // 50))  # about 4 % two-intent messages
    return [texts[i % len(texts)] for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--packs-dir", type=Path, default=ROOT / "packs" / "intents")
    parser.add_argument("--count", type=int, default=1000, help="utterances to classify")
    parser.add_argument("--batch", type=int, default=32, help="batch size for classify_batch")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "switchboard-bench-intents",
        help="embedding cache for training",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    classifier = IntentClassifier.from_packs(args.packs_dir, cache_dir=args.cache_dir)
    trained_s = time.perf_counter() - started
    texts = utterances(args.packs_dir, max(1, args.count))
    for text in texts[:20]:  # warm-up
        classifier.classify(text)

    one: list[float] = []
    labels: dict[str, int] = {}
    started = time.perf_counter()
    for text in texts:
        t0 = time.perf_counter()
        result = classifier.classify(text)
        one.append(time.perf_counter() - t0)
        labels[result.intent] = labels.get(result.intent, 0) + 1
    single_s = time.perf_counter() - started

    batch = max(1, args.batch)
    per_batch: list[float] = []
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        t0 = time.perf_counter()
        classifier.classify_batch(texts[i : i + batch])
        per_batch.append(time.perf_counter() - t0)
    batch_s = time.perf_counter() - started

    latency = summarize(one)
    batches = summarize(per_batch)
    figures = {
        "bench": "intents_throughput",
        "intents": len(classifier.intent_names),
        "utterances": len(texts),
        "train_s": round(trained_s, 2),
        "utterances_per_s": round(len(texts) / single_s, 1),
        "p50_ms": latency.p50_ms,
        "p95_ms": latency.p95_ms,
        "p99_ms": latency.p99_ms,
        "batch": batch,
        "batched_utterances_per_s": round(len(texts) / batch_s, 1),
        "batch_p50_ms": batches.p50_ms,
        "out_of_scope_share": round(labels.get("out_of_scope", 0) / len(texts), 3),
    }
    print(
        f"classifier over {figures['intents']} intents (trained in {trained_s:.1f} s)\n"
        f"  one at a time  {figures['utterances_per_s']} utterances/s, p50 {latency.p50_ms} ms, "
        f"p95 {latency.p95_ms} ms, p99 {latency.p99_ms} ms\n"
        f"  batches of {batch}  {figures['batched_utterances_per_s']} utterances/s "
        f"(p50 {batches.p50_ms} ms per batch)"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
