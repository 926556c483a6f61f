"""What the command line does with an error: a user's mistake in one line, a bug with its
traceback."""

import pytest

from advnets import cli
from advnets.errors import AdvnetsError, ArgumentError, ConfigError, DataError, RunError


def test_each_error_is_the_builtin_a_caller_would_catch():
    assert issubclass(ConfigError, ValueError) and issubclass(DataError, ValueError)
    assert all(issubclass(e, AdvnetsError) for e in (ConfigError, ArgumentError, RunError))


def test_a_users_mistake_is_one_line_with_its_exit_code(monkeypatch, capsys):
    def refuse(args):
        raise ArgumentError("-n 0: the number of samples must be at least 1")

    monkeypatch.setattr(cli, "cmd_presets", refuse)
    assert cli.main(["presets"]) == 2
    err = capsys.readouterr().err
    assert err == "advnets: error: -n 0: the number of samples must be at least 1\n"


def test_a_bug_keeps_its_traceback(monkeypatch):
    def broken(args):
        raise ValueError("an internal invariant failed")  # not an AdvnetsError: a bug

    monkeypatch.setattr(cli, "cmd_presets", broken)
    with pytest.raises(ValueError, match="internal invariant"):
        cli.main(["presets"])


def test_abbreviated_flags_are_refused(capsys):
    assert cli.main(["train", "--preset", "digits-quick", "--train.epoch", "3", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'train.epoch'; valid keys of [train]: seed, batch_size, epochs" in err
    with pytest.raises(SystemExit):  # argparse's own usage error for an unknown plain flag
        cli.main(["sample", "run", "--see", "3"])
