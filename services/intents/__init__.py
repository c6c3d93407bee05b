"""Local intent classification: packs, the MiniLM + TF-IDF classifier, and its evaluation."""

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
