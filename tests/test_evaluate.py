"""`advnets evaluate` and `advnets.evaluate.evaluate`: records, protocols, the shipped
classifiers."""

import json

import pytest
import torch

from advnets.data import load
from advnets.evaluate import EvaluationError, Protocol, evaluate
from advnets.metrics import classifier as clfmod
from advnets.metrics.fid import fid
from advnets.metrics.parzen import parzen_protocol
from advnets.sample import load_generator
from advnets.train.loop import train
from helpers import advnets, own_copy, tiny_config

SMALL = {
    "samples": 300,
    "split_rows": 400,
    "valid_rows": 50,
    "kid_subsets": 5,
    "kid_subset_size": 100,
}


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory, mnist_root):
    config = tiny_config(
        data={"source": "mnist", "dir": str(mnist_root)},
        generator={"noise_dim": 8, "hidden": [64]},
        train={"max_steps": 4, "log_every": 2},
    )
    return train(config, tmp_path_factory.mktemp("eval") / "run", progress=False)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    return train(
        tiny_config(train={"max_steps": 3, "log_every": 1}),
        tmp_path_factory.mktemp("eval") / "digits",
        progress=False,
    )


def test_cli_prints_a_table_and_records_every_metric(mnist_run, mnist_root, tmp_path):
    mnist_run = own_copy(mnist_run, tmp_path)
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in SMALL.items()]
    proc = advnets(
        "evaluate", mnist_run, "--metric", "all", "--data-dir", mnist_root, "--no-progress", *flags
    )
    for word in ("parzen", "fid", "kid", "precision", "recall", "score", "labels"):
        assert word in proc.stdout
    book = json.loads((mnist_run / "evaluation.json").read_text())
    ((key, entry),) = book.items()
    assert key.startswith("step-") and entry["subject"]["step"] == 4
    assert entry["protocol"]["samples"] == 300 and entry["subject"]["split_rows"] == 400
    assert set(entry["metrics"]) == {"parzen", "fid", "kid", "pr", "score", "labels"}
    assert entry["metrics"]["fid"]["sha256"] == clfmod.SHIPPED["mnist"][1]
    parzen = entry["metrics"]["parzen"]
    assert parzen["n_centres"] == 300 and parzen["n_valid"] == 50 and parzen["n_test"] == 400
    assert parzen["sigma"] in Protocol().sigmas and parzen["seconds"] >= 0


def test_parzen_is_the_protocol_on_the_runs_samples(mnist_run, mnist_root):
    protocol = Protocol(samples=200, split_rows=100, valid_rows=30, seed=5)
    result = evaluate(
        mnist_run, "parzen", protocol, data_dir=mnist_root, progress=False, write=False
    )
    samples = load_generator(mnist_run).sample(200, seed=5)
    valid = load("mnist", "valid", mnist_root).x
    direct = parzen_protocol(samples, valid[:30], load("mnist", "test", mnist_root).x[:100])
    assert (
        result.metrics["parzen"]["mean"] == direct.mean
        and result.metrics["parzen"]["sigma"] == direct.sigma
    )
    # validation rows after those that chose sigma: a protocol that leaves the test set alone
    protocol = Protocol(
        samples=200, split="valid", split_start=1000, split_rows=100, valid_rows=30, seed=5
    )
    result = evaluate(
        mnist_run, "parzen", protocol, data_dir=mnist_root, progress=False, write=False
    )
    assert (
        result.metrics["parzen"]["mean"]
        == parzen_protocol(samples, valid[:30], valid[1000:1100]).mean
    )
    assert result.subject["split_range"] == [1000, 1100]


def test_later_metrics_of_the_same_protocol_are_merged(mnist_run, mnist_root, tmp_path):
    mnist_run = own_copy(mnist_run, tmp_path)
    protocol = Protocol(
        samples=100, split_rows=100, valid_rows=20, kid_subsets=2, kid_subset_size=50
    )
    evaluate(mnist_run, "parzen", protocol, data_dir=mnist_root, progress=False)
    evaluate(mnist_run, "fid", protocol, data_dir=mnist_root, progress=False)
    entry = next(iter(json.loads((mnist_run / "evaluation.json").read_text()).values()))
    assert {"parzen", "fid"} <= set(entry["metrics"]) and entry["protocol"]["samples"] == 100


def test_reference_row_is_training_images_against_the_split(mnist_root):
    protocol = Protocol(samples=500, split_rows=600)
    result = evaluate(
        None, "fid", protocol, reference=True, source="mnist", data_dir=mnist_root, progress=False
    )
    clf = clfmod.load_classifier("mnist")
    direct = fid(
        clf(load("mnist", "train", mnist_root).x[:500])[0],
        clf(load("mnist", "test", mnist_root).x[:600])[0],
    )
    assert result.metrics["fid"]["value"] == pytest.approx(direct, rel=1e-12)
    assert result.subject["reference"] == "mnist training rows 0-499"


def test_shipped_mnist_classifier_is_accurate_and_checked(mnist_root, monkeypatch):
    test = load("mnist", "test", mnist_root)
    _, probs = clfmod.load_classifier("mnist")(test.x)
    assert (probs.argmax(1) == test.y).double().mean() >= 0.992
    blob = bytearray(clfmod.weights_bytes("mnist"))
    blob[-1] ^= 1
    monkeypatch.setattr(clfmod, "weights_bytes", lambda source: bytes(blob))
    with pytest.raises(clfmod.ClassifierError, match="SHA-256"):
        clfmod.load_classifier("mnist")


def test_classifier_metrics_move_the_right_way(mnist_root):
    """Noise and blur raise FID and lower recall; keeping only five classes shows in the label
    histogram."""
    from advnets.metrics.precision_recall import precision_recall
    from advnets.metrics.score import label_total_variation

    clf = clfmod.load_classifier("mnist")
    train, test = load("mnist", "train", mnist_root), load("mnist", "test", mnist_root)
    x, real = train.x[:2000], test.x[:2000]
    f_real, p_real = clf(real)
    f_x, p_x = clf(x)
    noisy = (x + 0.3 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    blurred = torch.nn.functional.avg_pool2d(x.view(-1, 1, 28, 28), 3, 1, 1).view(-1, 784)
    few = train.x[:4000][train.y[:4000] < 5][:2000]
    f_noisy, f_blur, (f_few, p_few) = clf(noisy)[0], clf(blurred)[0], clf(few)
    clean = fid(f_x, f_real)
    assert fid(f_noisy, f_real) > 10 * clean and fid(f_blur, f_real) > 3 * clean
    _, recall = precision_recall(f_real, f_x)
    assert precision_recall(f_real, f_noisy)[1] < recall - 0.2
    assert precision_recall(f_real, f_few)[1] < recall - 0.2
    assert label_total_variation(p_x, p_real) < 0.05
    assert label_total_variation(p_few, p_real) > 0.4


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--metric", "fid"], 2, "28 x 28"),
        (["--metric", "fidd"], 2, "valid metrics: parzen"),
        (["--samples", "1"], 2, "at least 2"),
        (["--sigmas", "0.1,x"], 2, "logspace:-1,0,10"),
    ],
)
def test_bad_requests_are_explained(digits_run, args, code, message):
    proc = advnets("evaluate", digits_run, "--no-progress", *args, check=False)
    assert proc.returncode == code and message in proc.stderr and "Traceback" not in proc.stderr
    assert not (digits_run / "evaluation.json").exists()


def test_parzen_works_on_any_data_and_custom_sigmas(digits_run, tmp_path):
    digits_run = own_copy(digits_run, tmp_path)
    advnets(
        "evaluate",
        digits_run,
        "--samples",
        100,
        "--valid-rows",
        40,
        "--sigmas",
        "logspace:-1,0,3",
        "--no-progress",
    )
    entry = next(iter(json.loads((digits_run / "evaluation.json").read_text()).values()))
    assert entry["metrics"]["parzen"]["sigma"] in (0.1, pytest.approx(10**-0.5), 1.0)
    assert entry["subject"]["data"] == "digits" and len(entry["protocol"]["sigmas"]) == 3


def test_not_a_run_is_explained(tmp_path):
    proc = advnets("evaluate", tmp_path, "--no-progress", check=False)
    assert proc.returncode == 1 and "holds no checkpoint" in proc.stderr
    proc = advnets("evaluate", "--no-progress", check=False)
    assert proc.returncode == 2 and "nothing to evaluate" in proc.stderr


def test_inception_metrics_without_the_weights_say_where_to_get_them(
    mnist_run, mnist_root, monkeypatch, tmp_path
):
    monkeypatch.setenv("ADVNETS_INCEPTION_WEIGHTS", str(tmp_path / "missing.pt"))
    proc = advnets(
        "evaluate", mnist_run, "--metric", "inception-fid", "--samples", 10, "--split-rows", 10,
        "--data-dir", mnist_root, "--no-progress", "--no-write", check=False,
    )  # fmt: skip
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "missing.pt" in proc.stderr and "does not exist" in proc.stderr
    assert "SHA-256" in proc.stderr


def test_shipped_fashion_classifier_is_accurate():
    from advnets.data.download import DataNotFoundError

    try:
        test = load("fashion-mnist", "test", download_missing=False, progress=False)
    except DataNotFoundError:
        pytest.skip("Fashion-MNIST files not found (Debian: apt-get install dataset-fashion-mnist)")
    _, probs = clfmod.load_classifier("fashion-mnist")(test.x)
    assert (probs.argmax(1) == test.y).double().mean() >= 0.91


def test_truncation_feeds_G_the_shrunk_noise_and_is_filed_apart(digits_run, tmp_path):
    digits_run = own_copy(digits_run, tmp_path)
    from advnets.nn.prior import sample_noise

    trained = load_generator(digits_run)
    g = trained.config.generator
    z = sample_noise(g.prior, 50, g.noise_dim, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        by_hand = trained.G(0.5 * z)
    shrunk = trained.sample(50, seed=3, truncation=0.5)
    assert torch.equal(shrunk, by_hand)
    assert torch.equal(trained.sample(50, seed=3, truncation=1.0), trained.sample(50, seed=3))
    assert not torch.equal(shrunk, trained.sample(50, seed=3))

    protocol = Protocol(samples=100, valid_rows=40, truncation=0.5)
    result = evaluate(digits_run, "parzen", protocol, progress=False)
    data_valid, data_test = load("digits", "valid").x, load("digits", "test").x
    direct = parzen_protocol(trained.sample(100, truncation=0.5), data_valid[:40], data_test)
    assert result.metrics["parzen"]["mean"] == direct.mean
    evaluate(digits_run, "parzen", Protocol(samples=100, valid_rows=40), progress=False)
    book = json.loads((digits_run / "evaluation.json").read_text())
    key = result.subject["checkpoint"]
    assert key.endswith(":truncation-0.5") and key.split(":")[0] in book
    assert (
        book[key]["protocol"]["truncation"] == 0.5
        and book[key.split(":")[0]]["protocol"]["truncation"] == 1.0
    )


@pytest.mark.parametrize(
    "command, value", [("evaluate", "0"), ("evaluate", "1.5"), ("sample", "-1"), ("sample", "nan")]
)
def test_bad_truncation_is_explained(digits_run, tmp_path, command, value):
    rest = ["-n", 4, "--npy", tmp_path / "x.npy"] if command == "sample" else ["--no-progress"]
    proc = advnets(command, digits_run, "--truncation", value, *rest, check=False)
    assert proc.returncode == 2 and "(0, 1]" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "x.npy").exists() and not (digits_run / "evaluation.json").exists()


def test_truncation_of_the_reference_rows_is_refused():
    with pytest.raises(EvaluationError, match="reference rows are training images"):
        evaluate(
            None,
            "parzen",
            Protocol(samples=100, truncation=0.9),
            reference=True,
            source="digits",
            progress=False,
        )


def test_a_damaged_evaluation_record_is_kept_aside_not_lost(tmp_path):
    from advnets.evaluate import Evaluation, record

    target = tmp_path / "evaluation.json"
    target.write_text('{"step-00000010": {"metrics": ')  # cut short mid-write by another tool
    result = Evaluation({"run": "r"}, {"samples": 2}, {"parzen": {"mean": 1.0}})
    with pytest.warns(UserWarning, match="moved to evaluation.json.damaged-"):
        record(target, result, key="step-00000020")
    (aside,) = tmp_path.glob("evaluation.json.damaged-*")
    assert aside.read_text() == '{"step-00000010": {"metrics": '
    assert json.loads(target.read_text())["step-00000020"]["metrics"] == {"parzen": {"mean": 1.0}}
