"""MiniLM encoder latency per utterance, one thread: numpy vs onnxruntime (float and int8).

    .venv/bin/python benchmarks/encoder_latency.py                     # 500 CLINC150 validation
    .venv/bin/python benchmarks/encoder_latency.py --count 2000 --cpu 1 --variants onnx numpy

Loads each encoder variant (``numpy``: numpy float32 on one BLAS thread; ``onnx``: the graph
built at load, onnxruntime on one intra-op thread; ``onnx-int8``: the same with int8 weight
products), then times ``encode_one`` on the first --count CLINC150 validation utterances (in
file order; 3 to 29 word pieces, 10 typical, [CLS] and [SEP] included). The variants take
turns by blocks of --block utterances, so a busy machine slows them alike while each keeps its
weights in cache within a block, as the router's only encoder would. Also times the tokenizer
alone, and reports each variant's parity with the numpy encoder over the same utterances
(smallest cosine, largest absolute difference). Wall time and the calling thread's CPU time
(onnxruntime on one intra-op thread computes on the caller's thread), which a shared machine
inflates less. Validation data only: no test utterance is read. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from benchkit import summarize

from services.intents.datasets import DEFAULT_DATA_DIR, load_dataset
from services.intents.encoder import MiniLMEncoder
from services.intents.threads import one_blas_thread

VARIANTS = ("numpy", "onnx", "onnx-int8")


def load(variant: str) -> MiniLMEncoder:
    if variant == "numpy":
        return MiniLMEncoder(backend="numpy")
    return MiniLMEncoder(backend="onnx", threads=1, int8=variant == "onnx-int8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=500, help="validation utterances to time")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--warmup", type=int, default=30, help="untimed calls per variant first")
    parser.add_argument("--block", type=int, default=50, help="utterances per turn of a variant")
    parser.add_argument(
        "--cpu", type=int, default=None, help="pin the process to this CPU (default: no pinning)"
    )
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    texts = load_dataset("clinc150", args.data_dir).validation.texts[: max(1, args.count)]

    encoders: dict[str, MiniLMEncoder] = {}
    load_s: dict[str, float] = {}
    for variant in args.variants:
        started = time.perf_counter()
        encoders[variant] = load(variant)
        load_s[variant] = time.perf_counter() - started
    tokenizer = next(iter(encoders.values()))._tokenizer

    timings: dict[str, list[float]] = {variant: [] for variant in encoders}
    cpu: dict[str, list[float]] = {variant: [] for variant in encoders}
    vectors: dict[str, list[np.ndarray]] = {variant: [] for variant in encoders}
    tokenize: list[float] = []
    with one_blas_thread():
        for encoder in encoders.values():
            for text in texts[: args.warmup]:
                encoder.encode_one(text)
        for text in texts:
            t0 = time.perf_counter()
            tokenizer.encode(text)
            tokenize.append(time.perf_counter() - t0)
        block = max(1, args.block)
        for start in range(0, len(texts), block):
            for variant, encoder in encoders.items():
                for text in texts[start : start + block]:
                    t0, c0 = time.perf_counter(), time.thread_time()
                    vector = encoder.encode_one(text)
                    timings[variant].append(time.perf_counter() - t0)
                    cpu[variant].append(time.thread_time() - c0)
                    vectors[variant].append(vector)

    reference = np.stack(vectors["numpy"]) if "numpy" in vectors else None
    print(f"MiniLM encode_one, {len(texts)} CLINC150 validation utterances, one thread")
    print(
        f"{'variant':<10} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'cpu p50':>8} {'load s':>7}"
        "  parity vs numpy"
    )
    results: dict[str, dict[str, float | int | None]] = {}
    for variant, seconds in timings.items():
        summary = summarize(seconds)
        cpu_summary = summarize(cpu[variant])
        got = np.stack(vectors[variant])
        cosine = max_abs = None
        parity = "-"
        if reference is not None and variant != "numpy":
            cosine = float((got * reference).sum(axis=1).min())
            max_abs = float(np.abs(got - reference).max())
            parity = f"min cosine {cosine:.7f}, max |diff| {max_abs:.1e}"
        print(
            f"{variant:<10} {summary.p50_ms:>8.2f} {summary.p99_ms:>8.2f} "
            f"{summary.mean_ms:>8.2f} {cpu_summary.p50_ms:>8.2f} {load_s[variant]:>7.2f}  {parity}"
        )
        results[variant] = {
            **summary.as_dict(),
            "cpu_p50_ms": cpu_summary.p50_ms,
            "cpu_p99_ms": cpu_summary.p99_ms,
            "load_s": round(load_s[variant], 2),
            "min_cosine_vs_numpy": cosine,
            "max_abs_diff_vs_numpy": max_abs,
        }
    tok = summarize(tokenize)
    print(f"{'tokenizer':<10} {tok.p50_ms:>8.2f} {tok.p99_ms:>8.2f} {tok.mean_ms:>8.2f}")
    print(
        json.dumps(
            {
                "bench": "encoder_latency",
                "utterances": len(texts),
                "cpu": args.cpu,
                "tokenizer": tok.as_dict(),
                **results,
            }
        )
    )


if __name__ == "__main__":
    main()
