"""gateway.toml: read what an operator writes, refuse clearly what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from devices.config import ConfigError, KnownDevice, load_config

TOKEN = "lgw_" + "a" * 43


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_full_configuration(tmp_path):
    config = load_config(
        write(
            tmp_path,
            f"""
            service_url = "https://linli.example.org/"
            token = "{TOKEN}"
            data_dir = "{tmp_path / "data"}"
            max_pending = 5000
            scan_seconds = 4
            [[devices]]
            address = "F0:12:34:56:78:9A"
            name = "血压计"
            """,
        )
    )
    assert config.service_url == "https://linli.example.org"
    assert config.outbox_path == tmp_path / "data" / "outbox.sqlite3"
    assert (config.max_pending, config.scan_seconds) == (5000, 4)
    assert config.devices == (KnownDevice("F0:12:34:56:78:9A", "血压计"),)


def test_a_controller_over_hci_instead_of_the_system_bluetooth(tmp_path):
    text = f'service_url = "http://x"\ntoken = "{TOKEN}"\n[bluetooth]\ntransport = "usb:0"\n'
    assert load_config(write(tmp_path, text)).hci_transport == "usb:0"
    assert load_config(write(tmp_path, text.split("[")[0])).hci_transport is None


def test_the_token_may_live_in_its_own_file(tmp_path):
    (tmp_path / "token").write_text(TOKEN + "\n")
    path = write(tmp_path, f'service_url = "http://x"\ntoken_file = "{tmp_path / "token"}"\n')
    assert load_config(path).token == TOKEN


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('token = "x"', "'service_url' is required"),
        ('service_url = "ftp://x"\ntoken = "lgw_1"', "must start with http"),
        ('service_url = "http://x"', "set 'token' or 'token_file'"),
        ('service_url = "http://x"\ntoken = "lus_1"', "must be a gateway token"),
        ('service_url = "http://x"\ntoken = "lgw_1"\nmax_pending = -3', "must be positive"),
        ('service_url = "http://x"\ntoken = "lgw_1"\nmax_pending = "many"', "wrong type"),
        ('service_url = "http://x"\ntoken = "lgw_1"\nprinter = 1', "unknown setting(s): printer"),
        (
            'service_url = "http://x"\ntoken = "lgw_1"\n[[devices]]\nname = "a"',
            "needs an 'address'",
        ),
        ('service_url = "http://x', "not valid TOML"),
        (
            'service_url = "http://x"\ntoken = "lgw_1"\n[bluetooth]\nadapter = "hci0"',
            "unknown [bluetooth] setting(s): adapter",
        ),
        (
            'service_url = "http://x"\ntoken = "lgw_1"\n[bluetooth]\ntransport = 9000',
            "'transport' must be a transport name",
        ),
        ('service_url = "http://x"\ntoken = "lgw_1"\nbluetooth = "usb:0"', "wrong type"),
    ],
)
def test_mistakes_are_named(tmp_path, text, words):
    with pytest.raises(ConfigError, match=None) as caught:
        load_config(write(tmp_path, text))
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")
