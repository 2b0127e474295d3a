"""gateway.toml under arbitrary documents: a configuration the gateway can run with, or one
ConfigError line naming the file, never another exception.

Documents are written by a small TOML writer from arbitrary values, with the gateway's own
settings more often than chance would have them; arbitrary text and bytes too.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.config import ConfigError, GatewayConfig, KnownDevice, load_config
from tests.fuzzing import SHARED_FIXTURES, counted, examples

# TOML strings hold any Unicode scalar value (not lone surrogates).
text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=16)
scalars = (
    text
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**400)
    | st.floats()
    | st.booleans()
    | st.datetimes()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
TOKEN = "lgw_" + "a" * 43


def toml_string(value: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, and DEL is escaped too."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_value(value: Any) -> str:
    """`value` written as TOML (inline tables for tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    return value.isoformat()  # a datetime


def documents(token_file: Path) -> st.SearchStrategy[str]:
    """gateway.toml texts: the gateway's settings (near right, or anything), other keys."""
    paths = st.sampled_from(
        [str(token_file), "~", "~nobody-linli/token", "/nonexistent/x", "/", "a\x00b", ""]
    )
    near = {
        "service_url": st.sampled_from(["http://x", "https://linli.example.org/", "ftp://x"]),
        "token": st.sampled_from([TOKEN, "lus_x", "lgw_", ""]),
        "token_file": paths,
        "data_dir": paths,
        "max_pending": st.integers() | st.integers(min_value=10**300, max_value=10**400),
        "scan_seconds": st.floats() | st.integers(-5, 5),
        "sync_interval_seconds": st.floats() | st.integers(-5, 5),
        "devices": st.lists(
            st.fixed_dictionaries({}, optional={"address": text | values, "name": text | values})
        ),
        "bluetooth": st.fixed_dictionaries({}, optional={"transport": text | values}),
    }
    # A good document with a few settings changed (near misses or anything), dropped or added.
    changes = st.dictionaries(
        st.sampled_from([*sorted(near), "printer"]),
        st.none() | values,
        max_size=4,
    ).flatmap(
        lambda keys: st.fixed_dictionaries(
            {key: near[key] | values | st.none() if key in near else values for key in keys}
        )
    )
    document = changes.map(
        lambda changed: {
            key: value
            for key, value in ({"service_url": "http://x", "token": TOKEN} | changed).items()
            if value is not None
        }
    )
    written = document.map(
        lambda d: "\n".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in d.items())
    )
    return st.one_of(written, written, written, st.text())  # mostly TOML, sometimes not


def check(config: GatewayConfig) -> None:
    """What the gateway relies on when it runs with `config`."""
    assert config.service_url.startswith(("http://", "https://"))
    assert isinstance(config.token, str)
    assert config.token.startswith("lgw_")
    assert isinstance(config.data_dir, Path)
    assert type(config.max_pending) is int
    assert 0 < float(config.max_pending) < float("inf")
    for seconds in (config.scan_seconds, config.sync_interval_seconds):
        assert type(seconds) in (int, float)
        assert 0 < float(seconds) < float("inf")
    for device in config.devices:
        assert isinstance(device, KnownDevice)
        assert isinstance(device.address, str)
        assert device.name is None or isinstance(device.name, str)
    assert config.hci_transport is None or (
        isinstance(config.hci_transport, str) and config.hci_transport
    )


def load(path: Path) -> None:
    try:
        config = load_config(path)
    except ConfigError as error:
        message = str(error)
        assert str(path) in message
        assert "\n" not in message
    else:
        check(config)


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n", encoding="utf-8")
    return path


def test_any_document_gives_a_config_or_a_config_error(tmp_path: Path, token_file: Path) -> None:
    path = tmp_path / "gateway.toml"

    @counted
    @examples(400, 4000, suppress_health_check=SHARED_FIXTURES)
    @given(document=documents(token_file), token_bytes=st.binary(max_size=8))
    def run(document: str, token_bytes: bytes) -> None:
        token_file.write_bytes(TOKEN.encode() + token_bytes)
        path.write_text(document, encoding="utf-8")
        load(path)

    run()


@counted
@examples(200, 2000, suppress_health_check=SHARED_FIXTURES)
@given(data=st.binary(max_size=64))
def test_any_bytes_give_a_config_or_a_config_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "gateway.toml"
    path.write_bytes(data)
    load(path)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("scan_seconds = nan", "'scan_seconds' must be positive and finite"),
        ("sync_interval_seconds = inf", "'sync_interval_seconds' must be positive and finite"),
        (f"max_pending = {10**400}", "'max_pending' must be positive and finite"),
        ('data_dir = "~nobody-linli/x"', "~nobody-linli is the home of no user here"),
        ('data_dir = "a\\u0000b"', "'data_dir' holds a NUL character"),
        ('[[devices]]\naddress = "F0:12"\nname = 7', "devices entry 1: 'name' must be a string"),
    ],
)
def test_what_the_fuzzing_found(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(f'service_url = "http://x"\ntoken = "{TOKEN}"\n{text}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert words in str(caught.value)


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_bytes(b'service_url = "http://\xff"')
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_config(path)
