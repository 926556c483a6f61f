"""Properties over many random inputs (Hypothesis): the config layer and the data readers either
accept an input as documented or refuse it with a message naming what is wrong, never a
traceback."""

import string
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from advnets import config as cfgmod
from advnets.data.arrays import read_array
from advnets.data.images import read_folder
from advnets.errors import ConfigError, DataError

FIELDS = sorted(cfgmod.field_paths())
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

values = st.one_of(
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(string.printable, max_size=12),
    st.lists(st.integers(-5, 3000), max_size=4),
    st.none(),
)
keys = st.one_of(
    st.sampled_from(FIELDS),
    st.tuples(
        st.sampled_from(["train", "data", "optim", "nosuch"]),
        st.text(string.ascii_lowercase, min_size=1, max_size=8),
    ).map(".".join),
)


def _round_trip(config: cfgmod.Config) -> None:
    """What `--dry-run` prints, read back by `--config`, is the same config."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.toml"
        path.write_text(config.to_toml())
        assert cfgmod.load_toml(path) == config


@SETTINGS
@given(st.dictionaries(keys, values, max_size=4), st.booleans())
def test_config_values_are_accepted_and_round_trip_or_refused_by_name(settings_, from_text):
    nested: dict = {}
    for path, value in settings_.items():
        sec, name = path.split(".", 1)
        nested.setdefault(sec, {})[name] = str(value) if from_text and value is not None else value
    try:
        config = cfgmod.apply(cfgmod.Config(), nested, source="test", from_text=from_text)
    except ConfigError as err:
        message = str(err)
        assert any(p in message for p in settings_) or "[" in message or "needs" in message, message
        return
    cfgmod.check(config)
    _round_trip(config)


FLOAT_FIELDS = [p for p, (tp, _) in cfgmod.field_paths().items() if "float" in str(tp)]


@SETTINGS
@given(st.sampled_from(FLOAT_FIELDS), st.floats(allow_nan=True, allow_infinity=True), st.booleans())
def test_float_fields_round_trip_or_are_refused(path, value, from_text):
    sec, name = path.split(".", 1)
    given_value = repr(value) if from_text else value
    try:
        config = cfgmod.apply(
            cfgmod.Config(), {sec: {name: given_value}}, source="test", from_text=from_text
        )
    except ConfigError as err:
        assert path in str(err) or "needs" in str(err), err
        return
    _round_trip(config)


toml_text = st.text(string.printable, max_size=80) | st.lists(
    st.tuples(
        st.sampled_from(FIELDS), st.sampled_from(["1", "0.5", '"x"', "true", "[1, 2]", "-3"])
    ),
    max_size=4,
).map(lambda pairs: "".join(f"[{p.split('.')[0]}]\n{p.split('.')[1]} = {v}\n" for p, v in pairs))


@SETTINGS
@given(toml_text)
def test_toml_documents_are_read_or_refused_as_config_errors(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.toml"
        path.write_text(text)
        try:
            config = cfgmod.load_toml(path)
        except ConfigError as err:
            assert str(path) in str(err) or "." in str(err)
            return
    _round_trip(config)


DTYPES = ["uint8", "uint16", "int8", "int16", "int32", "int64", "float16", "float32", "float64",
          "bool", "complex64"]  # fmt: skip
SHAPES = [
    (5, 3),
    (4, 6, 6),
    (3, 5, 5, 1),
    (3, 5, 5, 3),
    (2, 3, 4, 4),
    (2, 4, 5, 5),
    (2, 2, 2, 2, 2),
]


@SETTINGS
@given(
    st.sampled_from(DTYPES),
    st.sampled_from(SHAPES),
    st.floats(-300, 300, allow_nan=False),
    st.floats(0, 70_000, allow_nan=False),
    st.sampled_from([None, np.nan, np.inf]),
)
def test_arrays_load_in_range_with_their_shape_or_are_refused_by_name(dtype, shape, lo, span, odd):
    rng = np.random.default_rng(0)
    values = lo + span * rng.random(shape)
    if odd is not None and np.dtype(dtype).kind in "fc":
        values.flat[0] = odd
    with np.errstate(all="ignore"):
        arr = values.astype(dtype)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.npy"
        np.save(path, arr)
        try:
            x, _, image_shape = read_array(path)
        except DataError as err:
            assert str(path) in str(err)
            return
    assert x.dtype.is_floating_point and x.shape == (shape[0], int(np.prod(shape[1:])))
    assert bool(x.isfinite().all())
    if image_shape is not None:  # images: pixels in [0, 1]
        assert float(x.min()) >= 0 and float(x.max()) <= 1
        assert int(np.prod(image_shape)) == x.shape[1] and len(shape) in (3, 4)
    else:
        assert len(shape) == 2


MODES = ["L", "LA", "RGB", "RGBA", "P", "P-transparent", "I;16", "1", "CMYK"]


@SETTINGS
@given(st.lists(st.sampled_from(MODES), min_size=1, max_size=4), st.integers(3, 9))
def test_image_folders_load_in_range_in_any_mode(modes, side):
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for i, mode in enumerate(modes):
            rgba = Image.fromarray(
                rng.integers(0, 256, (side, side + 1, 4), dtype=np.uint8), "RGBA"
            )
            if mode == "P-transparent":
                img = rgba.convert("RGB").convert("P")
                img.info["transparency"] = 0
            else:
                img = rgba.convert(mode)
            img.save(folder / f"{i}.png" if mode != "CMYK" else folder / f"{i}.tif")
        x, labels, shape, _ = read_folder(folder, size=4)
    assert x.shape == (len(modes), int(np.prod(shape))) and shape in ((4, 4), (3, 4, 4))
    assert float(x.min()) >= 0 and float(x.max()) <= 1 and labels is None


@pytest.mark.parametrize("bad", [b"\xff\xfe\x00binary", b"[train]\nepochs = 3\n[train]\nk = 1\n"])
def test_a_config_file_that_is_not_text_or_repeats_a_table_is_a_config_error(tmp_path, bad):
    path = tmp_path / "c.toml"
    path.write_bytes(bad)
    with pytest.raises(ConfigError, match=r"c\.toml"):
        cfgmod.load_toml(path)
