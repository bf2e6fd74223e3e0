"""The one error a bad ViewDefinition raises: it names the view, the path and why."""

from __future__ import annotations


class ViewDefinitionError(ValueError):
    """A ViewDefinition that cannot be compiled (invalid JSON shape, bad FHIRPath, unknown element, ...)."""

    def __init__(self, view: str, path: str, reason: str) -> None:
        self.view, self.path, self.reason = view, path, reason
        super().__init__(f"ViewDefinition {view!r}: {path}: {reason}")
