"""Frame -> model input: resize to the model's square input, scale to 0..1, normalise.

SAM 2.1 uses 1024 px and ImageNet mean/std; SAM 3 uses 1008 px and mean = std = 0.5. Both references
resize frames with PIL's bicubic filter, which we reproduce so that features match bit for bit.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from sam3core.sam.tracking_config import PreprocessConfig

_RESAMPLE = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
}


class Preprocessor:
    """Callable turning an (H, W, 3) RGB uint8 frame into a (1, 3, S, S) float32 tensor."""

    def __init__(self, config: PreprocessConfig) -> None:
        if config.resample not in _RESAMPLE:
            raise ValueError(f"unknown resample filter {config.resample!r}; one of {sorted(_RESAMPLE)}")
        self.config = config
        self._mean = torch.tensor(config.mean, dtype=torch.float32).view(3, 1, 1)
        self._std = torch.tensor(config.std, dtype=torch.float32).view(3, 1, 1)

    def __call__(self, rgb: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB frame, got {rgb.dtype} of shape {rgb.shape}")
        size = self.config.image_size
        resized = np.asarray(Image.fromarray(rgb).resize((size, size), _RESAMPLE[self.config.resample]))
        # float64 division then float32 matches the reference's numpy path exactly
        image = torch.from_numpy(resized / 255.0).permute(2, 0, 1).float()  # (3, S, S)
        image = (image - self._mean) / self._std
        return image.unsqueeze(0).to(device)
