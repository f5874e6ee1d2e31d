"""Network input images: ImageNet normalisation and the checks every network entry point runs.

Networks take float32 RGB ``(B, 3, H, W)`` (channels first) normalised per channel with the
ImageNet statistics: ``(x / 255 - mean) / std`` with ``mean = (0.485, 0.456, 0.406)`` and
``std = (0.229, 0.224, 0.225)`` (RGB order). ``normalize_images`` produces that from uint8
``[0, 255]`` or float ``[0, 1]`` RGB. Zero-valued padding (outside the image, see ``nets.crop``)
therefore reads as the mean colour.

Glossary: B batch, H x W image, S crop side.
"""

from __future__ import annotations

import torch

IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
_RANGE_SLACK = 1e-3  # float inputs may overshoot [0, 1] by rounding


def _check_channels_first(images: torch.Tensor, *, name: str) -> None:
    if images.ndim != 4:
        raise ValueError(f"{name}: expected a 4-D batch (B, 3, H, W), got shape {tuple(images.shape)}; "
                         "add a batch dimension with images[None]")  # fmt: skip
    if images.shape[1] != 3:
        hint = ("it looks channels-last (B, H, W, 3): use images.permute(0, 3, 1, 2)"
                if images.shape[-1] == 3 else "convert grey/RGBA images to 3-channel RGB first")  # fmt: skip
        raise ValueError(f"{name}: expected 3 RGB channels in dim 1, shape (B, 3, H, W), got "
                         f"{tuple(images.shape)}; {hint}")  # fmt: skip


def normalize_images(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``[0, 255]`` or float ``[0, 1]`` RGB ``(B, 3, H, W)`` -> normalised float32 ``(B, 3, H, W)``.

    Raises:
        TypeError: not a ``torch.Tensor``.
        ValueError: wrong rank or channel count (says how to permute), an integer dtype other
            than uint8, or float values outside ``[0, 1]`` (e.g. 0..255 floats: divide by 255).
    """
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images: expected a torch.Tensor, got {type(images).__name__}; "
                        "use torch.from_numpy(array).permute(0, 3, 1, 2) for (B, H, W, 3) arrays")  # fmt: skip
    _check_channels_first(images, name="images")
    if images.dtype == torch.uint8:
        x = images.to(torch.float32) / 255.0
    elif images.is_floating_point():
        if images.numel() and (float(images.min()) < -_RANGE_SLACK or float(images.max()) > 1 + _RANGE_SLACK):
            raise ValueError(f"images: float images must be RGB in [0, 1], got values in "
                             f"[{float(images.min()):.3g}, {float(images.max()):.3g}]; divide 0..255 images by "
                             "255 (or pass uint8), and do not normalise twice")  # fmt: skip
        x = images.to(torch.float32)
    else:
        raise ValueError(f"images: expected uint8 [0, 255] or float [0, 1] RGB, got dtype {images.dtype}")
    mean = torch.tensor(IMAGENET_MEAN_RGB, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD_RGB, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def check_network_images(images: torch.Tensor, *, size: int | None = None, name: str = "images") -> None:
    """Raise ``ValueError`` with a fix unless ``images`` is normalised float ``(B, 3, H, W)``.

    Args:
        images: the network input.
        size: when given, the required square side ``S`` (``H == W == S``).
        name: field name for the messages.
    """
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(images).__name__}")
    _check_channels_first(images, name=name)
    if not images.is_floating_point():
        raise ValueError(f"{name}: expected normalised float images, got dtype {images.dtype}; "
                         "pass them through robosmplx_core.nets.images.normalize_images first")  # fmt: skip
    if size is not None and (images.shape[2] != size or images.shape[3] != size):
        raise ValueError(f"{name}: expected {size} x {size} crops (B, 3, {size}, {size}), got "
                         f"{tuple(images.shape)}; crop with robosmplx_core.nets.crop.crop_boxes(..., "
                         f"out_size={size}) or build the subnetwork with that input_size")  # fmt: skip
