"""The small convolutional classifiers whose features the sample-quality metrics are computed on.

Inception networks are trained on RGB photographs; for 28 x 28 grey digits and clothes advnets
ships its own classifiers instead, one per data set, trained by ``scripts/train_classifier.py``
(deterministic for its seed) and stored in the package as safetensors. Their SHA-256 is recorded
below and checked every time one is loaded, so a metric always names the exact network it used.

Features are the 128 activations of the penultimate layer (after its ReLU); the softmax of the
last layer gives the class probabilities for the classifier score and the label histogram.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

import torch
from torch import nn

from advnets.errors import MissingFeature

FEATURE_DIM = 128

# data source -> (file in advnets/metrics/weights, its SHA-256, its test accuracy as measured by
# scripts/train_classifier.py when the file was made)
SHIPPED = {
    "mnist": (
        "mnist-classifier.safetensors",
        "ecda9c1675c081c510a819178292dcfd200eccb4fa03c151c9b23b3f94eb1511",
        0.9957,
    ),
    "fashion-mnist": (
        "fashion-mnist-classifier.safetensors",
        "fd4debef8c8807d24ca30717e9945f141c5e6922d3eea27b243e917a15821163",
        0.9205,
    ),
}


class ClassifierError(MissingFeature):
    """A shipped feature classifier that is missing, altered or not of this data set."""


class Classifier(nn.Module):
    """conv 5x5 (32) - pool - conv 5x5 (64) - pool - dense 128 (features) - dense 10."""

    def __init__(self, classes: int = 10):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 32, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),  # [B, 32, 12, 12]
            nn.Conv2d(32, 64, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),  # [B, 64, 4, 4]
        )
        self.hidden = nn.Linear(64 * 4 * 4, FEATURE_DIM)
        self.dropout = nn.Dropout(0.5)
        self.out = nn.Linear(FEATURE_DIM, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x: [B, 784] or [B, 1, 28, 28] pixels in [0, 1] -> [B, 128] penultimate activations."""
        x = x.reshape(-1, 1, 28, 28)
        return torch.relu(self.hidden(self.conv(x).flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(self.features(x)))  # logits [B, classes]


@dataclass
class LoadedClassifier:
    net: Classifier
    source: str
    file: str
    sha256: str
    test_accuracy: float

    @torch.no_grad()
    def __call__(
        self, x: torch.Tensor, batch: int = 2000, progress=None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(features [N, 128], class probabilities [N, 10]) of images x [N, 784] in [0, 1]."""
        if x.ndim != 2 or x.shape[1] != 784:
            raise ClassifierError(
                f"the {self.source} classifier takes 28 x 28 images flattened to [N, 784]; "
                f"got shape {tuple(x.shape)}"
            )
        feats, probs = [], []
        for chunk in x.float().split(batch):
            f = self.net.features(chunk)
            feats.append(f)
            probs.append(torch.softmax(self.net.out(f), dim=1))
            if progress is not None:
                progress(len(chunk))
        return torch.cat(feats), torch.cat(probs)


def weights_bytes(source: str) -> bytes:
    if source not in SHIPPED:
        raise ClassifierError(
            f"no classifier is shipped for data source {source!r}; "
            f"classifier metrics are available for: {', '.join(SHIPPED)}"
        )
    name = SHIPPED[source][0]
    try:
        return resources.files("advnets.metrics").joinpath("weights", name).read_bytes()
    except FileNotFoundError as err:
        raise ClassifierError(
            f"the {source} classifier weights advnets/metrics/weights/{name} are missing "
            "from this installation; reinstall advnets"
        ) from err


def load_classifier(source: str) -> LoadedClassifier:
    """The shipped classifier for `source`, after checking the file's SHA-256 against the record."""
    from safetensors.torch import load as load_safetensors

    blob = weights_bytes(source)
    name, expected, accuracy = SHIPPED[source]
    digest = hashlib.sha256(blob).hexdigest()
    if digest != expected:
        raise ClassifierError(
            f"advnets/metrics/weights/{name} has SHA-256 {digest}, but advnets records "
            f"{expected}: the file is damaged or was replaced; reinstall advnets"
        )
    net = Classifier()
    net.load_state_dict(load_safetensors(blob))
    net.eval()
    return LoadedClassifier(net, source, name, digest, accuracy)
