"""benchmarks/mode_coverage.py's guards: --set parsing, and a reused run folder must hold the run
that was asked for (else its numbers would be filed under the wrong setting)."""

import json
import sys
from pathlib import Path

import pytest

from advnets import config as cfgmod

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import mode_coverage


def test_set_fields_become_train_arguments_and_the_expected_config():
    sets = mode_coverage.parse_sets(["penalty.r1=0", "generator.hidden=64,64"])
    assert sets == {"penalty": {"r1": "0"}, "generator": {"hidden": "64,64"}}
    assert mode_coverage.train_flags(sets) == ["--penalty.r1", "0", "--generator.hidden", "64,64"]
    cfg = mode_coverage.expected_config("grid-2d", 3, sets)
    assert (cfg.penalty.r1, cfg.generator.hidden, cfg.train.seed) == (0.0, [64, 64], 3)


@pytest.mark.parametrize(
    "item, message",
    [
        ("penalty.r1", "expected SECTION.FIELD=VALUE"),
        ("r1=0", "expected SECTION.FIELD=VALUE"),
        ("train.seed=4", "use --seeds"),
    ],
)
def test_bad_set_fields_are_refused(item, message):
    with pytest.raises(SystemExit, match=message):
        mode_coverage.parse_sets([item])


def test_a_run_folder_of_another_config_is_refused_before_anything_runs(tmp_path):
    run = tmp_path / "grid-2d-s2"
    run.mkdir()
    other = mode_coverage.expected_config("grid-2d", 2, {"penalty": {"r1": "0"}})
    (run / "config.json").write_text(json.dumps(other.to_dict()))
    before = sorted(p.name for p in run.iterdir())
    with pytest.raises(
        SystemExit, match=r"penalty\.r1 differs from the preset grid-2d with no --set"
    ):
        mode_coverage.run_one(tmp_path, "grid-2d", 2, {}, threads=1)
    assert sorted(p.name for p in run.iterdir()) == before  # nothing trained or written
    # the same folder is the run asked for with --set penalty.r1=0
    assert not cfgmod.changed_fields(
        mode_coverage.expected_config("grid-2d", 2, mode_coverage.parse_sets(["penalty.r1=0"])),
        cfgmod.load_json(run / "config.json"),
    )
