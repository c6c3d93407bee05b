"""Local intent classification: packs, the classifier (MiniLM layer features on onnxruntime, TF-IDF
for the packs, logistic regression with an out-of-scope class), and its evaluation."""

from __future__ import annotations

from services.intents.classifier import Classification, IntentClassifier
from services.intents.packs import OUT_OF_SCOPE, IntentPack, PackError, load_packs

__all__ = [
    "OUT_OF_SCOPE",
    "Classification",
    "IntentClassifier",
    "IntentPack",
    "PackError",
    "load_packs",
]
