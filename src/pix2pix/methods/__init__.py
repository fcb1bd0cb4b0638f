"""Training methods, registered by name: each owns its networks, optimizers, step and defaults."""

from __future__ import annotations

from . import bicyclegan, cut, cyclegan, pix2pix  # noqa: F401 - registers the methods
from .base import HealthSignals, Method, StepRuntime
from .registry import build_method, method_class, method_for_research_generator, method_names, register_method, resolve

__all__ = ["HealthSignals", "Method", "StepRuntime", "build_method", "method_class", "method_for_research_generator",
           "method_names", "register_method", "resolve"]
