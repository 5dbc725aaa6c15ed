"""Figures and reports of evaluated models."""

# files `avvp figures` writes per model (kept here so that planning the DAG needs no matplotlib)
FIGURES = ("timelines.png", "curves.png", "cooccurrence.png", "tsne.png")
