"""Small generated datasets with learnable structure, shaped like the real ones.

``synthetic_cifar10``: 32x32 RGB uint8 images; each class is a smooth colour pattern of its own plus
per-image noise, shifts and brightness, so a small CNN learns it in seconds but not instantly.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    train_size: int = Field(2000, ge=10)
    eval_size: int = Field(500, ge=10)
    num_classes: int = Field(10, ge=2, le=100)
    image_size: int = Field(32, ge=8)
    noise: float = Field(0.35, ge=0, description="per-pixel noise relative to the pattern's range")
    seed: int = 0


def make_cifar_like(options: Options) -> dict[str, np.ndarray]:
    """Arrays ``train_x/train_y/eval_x/eval_y``; images (N, H, W, 3) uint8 like torchvision's CIFAR10.data."""
    rng = np.random.default_rng(options.seed)
    size, k = options.image_size, options.num_classes
    yy, xx = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size), indexing="ij")
    templates = []
    for _ in range(k):
        fx, fy = rng.uniform(0.5, 3.0, size=2)
        phase = rng.uniform(0, 2 * np.pi, size=3)
        colour = rng.uniform(0.2, 0.8, size=3)
        wave = np.stack([np.sin(2 * np.pi * (fx * xx + fy * yy) + p) for p in phase], axis=-1)
        templates.append(colour * 0.5 + 0.25 * wave)
    templates_arr = np.stack(templates)  # (k, H, W, 3) in roughly [0, 1]

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, k, size=n)
        shifts = rng.integers(-3, 4, size=(n, 2))
        images = np.empty((n, size, size, 3), dtype=np.float64)
        for i, (label, (dy, dx)) in enumerate(zip(labels, shifts, strict=True)):
            images[i] = np.roll(templates_arr[label], (dy, dx), axis=(0, 1))
        images *= rng.uniform(0.7, 1.3, size=(n, 1, 1, 1))
        images += rng.normal(0, options.noise * 0.5, size=images.shape)
        return (np.clip(images, 0, 1) * 255).round().astype(np.uint8), labels.astype(np.int64)

    train_x, train_y = draw(options.train_size)
    eval_x, eval_y = draw(options.eval_size)
    return {"train_x": train_x, "train_y": train_y, "eval_x": eval_x, "eval_y": eval_y}
