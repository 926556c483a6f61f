"""Semi-supervised learning from a GAN (the paper's section 7, extension 4): "features from the
discriminator or inference net could improve performance of classifiers when limited labeled
data is available". Three classifiers of the test images, all from the same few labelled images:

- ``discriminator``: a semi-supervised run's own D (semi.labels_per_class > 0), whose K outputs
  are class logits (Salimans et al., 2016; trained by advnets.train.loop);
- ``features``: logistic regression on the last hidden layer of any run's trained D;
- ``supervised``: the baseline, D's architecture trained on the labelled images alone.

The labelled images are a class-balanced draw from the training split (`labelled_subset`).
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from advnets.data.labels import labelled_subset
from advnets.errors import NotApplicable


@torch.no_grad()
def error_rate(logits_fn, x: torch.Tensor, y: torch.Tensor, batch: int = 2000) -> float:
    """The fraction of rows whose largest logit is not their label."""
    wrong = sum(
        int((logits_fn(xb).argmax(1) != yb).sum()) for xb, yb in zip(x.split(batch), y.split(batch))
    )
    return wrong / len(x)


def feature_classifier_error(D, labelled_x, labelled_y, test_x, test_y, c: float = 1.0) -> float:
    """Test error of L2-regularised logistic regression (inverse strength `c`) on D's last hidden
    layer, fitted to the labelled images."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    with torch.no_grad():
        f_lab, f_test = D.features(labelled_x).double().numpy(), D.features(test_x).double().numpy()
    scale = StandardScaler().fit(f_lab)
    clf = LogisticRegression(C=c, max_iter=5000).fit(scale.transform(f_lab), labelled_y.numpy())
    return float((clf.predict(scale.transform(f_test)) != test_y.numpy()).mean())


def supervised_baseline(
    build_d,
    labelled_x,
    labelled_y,
    test_x,
    test_y,
    *,
    steps: int = 3000,
    lr: float = 1e-3,
    batch: int = 100,
    seed: int = 0,
) -> float:
    """Test error of D's architecture (`build_d()`, K outputs) trained on the labelled images alone,
    with its dropout, Adam, `steps` minibatches drawn with replacement."""
    torch.manual_seed(seed)
    net = build_d()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(steps):
        rows = torch.randint(len(labelled_x), (batch,))
        loss = F.cross_entropy(net(labelled_x[rows]), labelled_y[rows])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return error_rate(net.eval(), test_x, test_y)


def classification_report(
    run,
    *,
    labels_per_class: int | None = None,
    label_seed: int | None = None,
    baseline: bool = True,
    baseline_steps: int = 3000,
    average: bool = True,
    data_dir=None,
) -> dict:
    """Test errors of the run's classifiers and of the supervised baseline on the same labels.

    A semi-supervised run uses its own labelled images unless others are asked for; any other run
    gets `labels_per_class` (default 10) drawn with `label_seed` (default 0). Where the run
    averages D's weights (average.discriminator) and `average` holds, the averaged D is the one
    scored; the trained D's error is reported beside it."""
    from advnets import checkpoint
    from advnets.config import from_dict
    from advnets.data import load
    from advnets.nn import build_discriminator
    from advnets.run import open_checkpoint
    from advnets.sample import load_discriminator

    the_run, folder = open_checkpoint(run)
    config = from_dict(checkpoint.read_state(folder)["config"], source=f"{folder}/state.json")
    if config.condition.kind != "none" or config.encoder.kind != "none":
        raise NotApplicable(
            f"{the_run.root} has a D that judges x together with "
            f"{'a class' if config.condition.kind != 'none' else 'a code z (BiGAN)'}; classify "
            "needs a "
            "D of x alone: an unconditional run, or a semi-supervised one (semi.labels_per_class)"
        )
    semi = config.semi
    per_class = labels_per_class or semi.labels_per_class or 10
    seed = label_seed if label_seed is not None else semi.label_seed
    train, test = (
        load(config.data.source, "train", data_dir),
        load(config.data.source, "test", data_dir),
    )
    if train.y is None:
        raise NotApplicable(f"{config.data.source} has no class labels to classify")
    rows = labelled_subset(train.y, per_class, seed)
    lab_x, lab_y = train.x[rows], train.y[rows]
    D = load_discriminator(folder, average=average)
    report = {
        "run": str(the_run.root),
        "checkpoint": folder.name,
        "data": config.data.source,
        "labels_per_class": per_class,
        "label_seed": seed,
        "labelled": len(rows),
        "test_rows": len(test),
        "discriminator": "average" if D.averaged else "trained",
    }
    own = semi.labels_per_class and per_class == semi.labels_per_class and seed == semi.label_seed
    if semi.labels_per_class:
        report["discriminator_error"] = error_rate(D, test.x, test.y)
        if D.averaged:
            report["trained_discriminator_error"] = error_rate(
                load_discriminator(folder), test.x, test.y
            )
        report["discriminator_trained_on_these_labels"] = bool(own)
    start = time.perf_counter()
    report["features_error"] = feature_classifier_error(D, lab_x, lab_y, test.x, test.y)
    if baseline:
        classes = int(train.y.max()) + 1
        report["supervised_error"] = supervised_baseline(
            lambda: build_discriminator(
                config,
                train.dim,
                outputs=classes,
                image_shape=train.image_shape,
                train_x=train.x,
            ),
            lab_x,
            lab_y,
            test.x,
            test.y,
            steps=baseline_steps,
            seed=seed,
        )
        report["supervised_steps"] = baseline_steps
    report["seconds"] = round(time.perf_counter() - start, 1)
    return report
