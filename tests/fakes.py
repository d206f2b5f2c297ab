"""Stand-ins shared by tests that must not load the real model."""

import hashlib

import numpy as np

from common.encoders import Encoder


class HashEncoder(Encoder):
    """A deterministic stand-in for the sentence encoder: the same text, the same unit vector."""

    identity = "test-hash-encoder"
    dimension = 32
    max_tokens = 512

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        seeds = [int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) for text in texts]
        vectors = np.array([np.random.default_rng(seed).normal(size=32) for seed in seeds])
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
