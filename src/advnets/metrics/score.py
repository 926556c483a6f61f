"""Metrics on a classifier's softmax outputs.

- The classifier score: the Inception-score formula (Salimans et al., 2016),
  exp( E_x KL(p(y|x) || p(y)) ), with p(y) the mean prediction of the set; computed on `splits`
  equal parts and reported as mean and standard deviation over them, as is customary. It rises
  with confident predictions spread evenly over the classes (at most the number of classes).
- Label coverage: the total variation distance between the histograms of predicted labels of
  the samples and of the data, 0.5 * sum_c |p_samples(c) - p_data(c)|: 0 when the classes are
  generated in the data's proportions, near 0.9 when all samples fall into one of ten classes.
"""

from __future__ import annotations

import torch


def classifier_score(probs, splits: int = 10) -> tuple[float, float]:
    """(mean, standard deviation) of the classifier score over `splits` parts of probs [n,
    classes]."""
    p = torch.as_tensor(probs).to(torch.float64)
    if p.ndim != 2 or p.shape[0] < splits or splits < 1:
        raise ValueError(
            f"need probabilities [n, classes] with n >= splits >= 1; got {tuple(p.shape)}, {splits}"
        )
    scores = []
    for part in p.chunk(splits):
        marginal = part.mean(0, keepdim=True)
        kl = torch.special.xlogy(part, part) - torch.special.xlogy(part, marginal)  # 0 log 0 = 0
        scores.append(kl.sum(1).mean().exp())
    t = torch.stack(scores)
    return float(t.mean()), (float(t.std()) if splits > 1 else 0.0)


def label_histogram(probs, classes: int | None = None) -> torch.Tensor:
    """Fraction of rows whose most probable class is each class, [classes]."""
    p = torch.as_tensor(probs)
    classes = classes or p.shape[1]
    return torch.bincount(p.argmax(1), minlength=classes).to(torch.float64) / p.shape[0]


def label_total_variation(probs_samples, probs_data) -> float:
    """Total variation distance between the predicted-label histograms of samples and data."""
    hs, hd = label_histogram(probs_samples), label_histogram(probs_data)
    if hs.shape != hd.shape:
        raise ValueError(f"the two sets have {hs.numel()} and {hd.numel()} classes")
    return float(0.5 * (hs - hd).abs().sum())
