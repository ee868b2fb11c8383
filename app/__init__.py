"""Masklet: desktop annotation of video object masklets."""

__version__ = "0.1.0"
