"""Evaluation: DAVIS J&F measures (metrics.py) and synthetic clips with exact ground truth (synthetic.py)."""
