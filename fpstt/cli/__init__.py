"""The ``fpstt`` command (:func:`main`, in :mod:`fpstt.cli.commands`)."""

from .commands import main

__all__ = ["main"]
