"""Inception-v3 FID and KID through torch-fidelity (the optional ``inception`` extra).

The metrics of the literature for RGB images: features of the TensorFlow Inception-v3 graph as
ported by torch-fidelity, whose FID matches the original TensorFlow code. Grey images are repeated
over three channels. The network's weights are fetched once by torch-fidelity into PyTorch's hub
cache; advnets first opens that file with ``torch.load(weights_only=True)``, so a file carrying
anything but tensors is refused before torch-fidelity (which unpickles it fully) sees it.
Without the package or the weights, the error says what to install or where to put the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from advnets.errors import MissingFeature


class InceptionUnavailable(MissingFeature):
    """The Inception metrics cannot run here: the extra is missing, or the data are not images."""


def _import_fidelity():
    try:
        import torch_fidelity
        from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3
    except (
        Exception
    ) as err:  # ImportError, or a torchvision built for another torch failing to load
        raise InceptionUnavailable(
            "Inception metrics need the optional extra: pip install 'advnets[inception]' "
            "(torch-fidelity "
            f"with a torchvision built for your torch {torch.__version__}); importing it failed: "
            f"{type(err).__name__}: {err}"
        ) from err
    return torch_fidelity, URL_INCEPTION_V3


def weights_path(url: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def _fetch_weights(url: str) -> Path:
    path = weights_path(url)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(
                url, str(path), progress=False
            )  # writes a temp file, then renames
        except Exception as err:
            raise InceptionUnavailable(
                f"could not download the Inception-v3 weights from {url} ({type(err).__name__}: "
                f"{err}); "
                f"offline, copy that file to {path}"
            ) from err
    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise InceptionUnavailable(
            f"{path} is not a plain tensor file ({type(err).__name__}: {err}); "
            f"delete it and download {url} again"
        ) from err
    return path


class _Images(torch.utils.data.Dataset):
    """Rows in [0, 1] as the uint8 [3, H, W] images torch-fidelity expects."""

    def __init__(self, x: torch.Tensor, image_shape: tuple[int, ...]):
        shape = (1, *image_shape) if len(image_shape) == 2 else tuple(image_shape)
        self.images = (x.reshape(-1, *shape).clamp(0, 1) * 255).round().to(torch.uint8)
        if shape[0] == 1:
            self.images = self.images.expand(-1, 3, -1, -1)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i].contiguous()


def check_available(image_shape) -> None:
    """Raise InceptionUnavailable now if the metrics could not be computed (no images, no
    package)."""
    if image_shape is None:
        raise InceptionUnavailable("Inception metrics need images; this data set holds points")
    _import_fidelity()


def inception_metrics(
    samples: torch.Tensor, real: torch.Tensor, image_shape, wanted, protocol, progress: bool = True
) -> dict:
    """{'inception-fid': {...}, 'inception-kid': {...}} for the metrics named in `wanted`."""
    if image_shape is None:
        raise InceptionUnavailable("Inception metrics need images; this data set holds points")
    fidelity, url = _import_fidelity()
    _fetch_weights(url)
    out = fidelity.calculate_metrics(
        input1=_Images(samples, image_shape),
        input2=_Images(real, image_shape),
        cuda=torch.cuda.is_available(),
        fid="inception-fid" in wanted,
        kid="inception-kid" in wanted,
        kid_subsets=protocol.kid_subsets,
        kid_subset_size=min(protocol.kid_subset_size, len(samples), len(real)),
        rng_seed=protocol.seed,
        verbose=progress,
        cache=False,
    )
    extractor = {
        "extractor": f"torch-fidelity {fidelity.__version__} inception-v3-compat",
        "weights": url,
    }
    result = {}
    if "inception-fid" in wanted:
        result["inception-fid"] = {"value": float(out["frechet_inception_distance"]), **extractor}
    if "inception-kid" in wanted:
        result["inception-kid"] = {
            "value": float(out["kernel_inception_distance_mean"]),
            "std": float(out["kernel_inception_distance_std"]),
            **extractor,
        }
    return result
