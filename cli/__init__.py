"""The `peakops` command: composes the native tools and the app; the only code that knows every area."""

from __future__ import annotations

from cli.main import app


def main() -> None:
    app()


__all__ = ["app", "main"]
