"""What a worker builds: an engine by registry name and checkpoint, on a device (picklable, hashable)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.cluster.files import FileRef

# (model name or None, local checkpoint path or None, device) -> engine; must be importable by name on
# the workers (a module-level function), since Ray pickles it by reference.
EngineFactory = Callable[[str | None, str | None, str], Any]


def build_registry_engine(model: str | None, checkpoint: str | None, device: str) -> Any:
    """The default factory: :func:`sam3core.engine.build_engine`, exactly what ``masklet track`` builds."""
    from sam3core.factory import build_engine

    return build_engine(model, checkpoint=checkpoint, device=device)


@dataclass(frozen=True)
class EngineRecipe:
    model: str | None = None               # registry name; None: detected from the checkpoint, else classical
    checkpoint: FileRef | None = None
    device: str = "cpu"
    factory: EngineFactory | None = None   # None: build_registry_engine

    def key(self) -> tuple:
        factory = self.factory or build_registry_engine
        return (self.model, self.checkpoint.digest if self.checkpoint else None, self.device,
                f"{factory.__module__}.{factory.__qualname__}")

    def describe(self) -> str:
        return self.model or (Path(self.checkpoint.path).name if self.checkpoint else "classical")
