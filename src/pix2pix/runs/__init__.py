"""The run folder: its layout, checkpoint files and log, read and written by training, evaluation
and inference alike (so it sits below all three)."""

from .checkpoints import RunPaths

__all__ = ["RunPaths"]
