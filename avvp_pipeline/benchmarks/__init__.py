"""Benchmarks above training: they train and score models."""
