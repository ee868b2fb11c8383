"""File-dialog filters shared by the File menu (files.py) and the dialogs (dialogs.py)."""

from __future__ import annotations

from app.ui.project_files import PROJECT_SUFFIX
from sam3core.video import VIDEO_SUFFIXES

VIDEO_FILTER = "Videos (" + " ".join(f"*{s}" for s in VIDEO_SUFFIXES) + ");;All files (*)"
PROJECT_FILTER = f"Masklet projects (*{PROJECT_SUFFIX});;All files (*)"
CHECKPOINT_FILTER = "Checkpoints (*.pt *.pth *.safetensors *.ckpt);;All files (*)"
