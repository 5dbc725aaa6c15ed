"""Exact t-SNE (van der Maaten & Hinton 2008) in numpy, for the few thousand points a split has."""

from __future__ import annotations

import numpy as np


def _conditional_p(d2: np.ndarray, perplexity: float, tol: float = 1e-5, steps: int = 60) -> np.ndarray:
    """Row-wise Gaussian affinities whose entropy matches ``log(perplexity)`` (binary search on beta)."""
    n = d2.shape[0]
    p = np.zeros_like(d2)
    target = np.log(perplexity)
    for i in range(n):
        lo, hi, beta = 0.0, np.inf, 1.0
        row = np.delete(d2[i], i)
        for _ in range(steps):
            w = np.exp(-(row - row.min()) * beta)
            s = w.sum()
            h = np.log(s) + beta * np.sum((row - row.min()) * w) / s
            if abs(h - target) < tol:
                break
            if h > target:
                lo, beta = beta, beta * 2 if hi == np.inf else (beta + hi) / 2
            else:
                hi, beta = beta, (beta + lo) / 2
        p[i, np.arange(n) != i] = w / s
    return p


def tsne(x: np.ndarray, dims: int = 2, perplexity: float = 30.0, iterations: int = 750, seed: int = 0) -> np.ndarray:
    """Embed ``x`` (N, D) into (N, ``dims``); deterministic for a given ``seed``."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if n < 4:
        raise ValueError(f"t-SNE needs at least 4 points, got {n}")
    perplexity = min(perplexity, (n - 1) / 3)
    x = x - x.mean(0)
    sq = (x**2).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0)
    p = _conditional_p(d2, perplexity)
    p = np.maximum((p + p.T) / (2 * n), 1e-12)
    y = np.random.default_rng(seed).normal(0, 1e-4, (n, dims))
    velocity, gains = np.zeros_like(y), np.ones_like(y)
    for it in range(iterations):
        exaggeration = 12.0 if it < 250 else 1.0
        momentum = 0.5 if it < 250 else 0.8
        sy = (y**2).sum(1)
        num = 1.0 / (1.0 + sy[:, None] + sy[None, :] - 2 * y @ y.T)
        np.fill_diagonal(num, 0.0)
        q = np.maximum(num / num.sum(), 1e-12)
        pq = (exaggeration * p - q) * num
        grad = 4.0 * ((np.diag(pq.sum(1)) - pq) @ y)
        gains = np.where(np.sign(grad) != np.sign(velocity), gains + 0.2, gains * 0.8).clip(0.01)
        velocity = momentum * velocity - 200.0 * gains * grad
        y = y + velocity
        y -= y.mean(0)
    return y
