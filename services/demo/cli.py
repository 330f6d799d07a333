"""CLI edge of the demo (filled in by its issue)."""

from __future__ import annotations


def demo() -> None:
    """Run the demo."""
