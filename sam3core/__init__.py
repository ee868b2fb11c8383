"""Masklet's tracker core: video frame source, SAM 2.1 / SAM 3 memory trackers, the classical engine.

Nothing in this package may import Qt (enforced by tests/test_no_qt.py).
"""
