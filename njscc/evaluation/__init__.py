"""Estimators, bounds and metrics used after training."""
