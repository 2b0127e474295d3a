"""The gateway's configuration file (gateway.toml).

service_url = "https://linli.example.org"   # where POST /v1/readings lives
token = "lgw_..."                            # or: token_file = "/etc/linli/token"
data_dir = "/var/lib/linli-gateway"          # the outbox lives here
max_pending = 200000                         # outbox bound, in readings
scan_seconds = 10.0                          # how long one scan for devices lasts
sync_interval_seconds = 300.0                # pause between two rounds of reading devices

[bluetooth]                                  # optional: a controller driven over HCI
transport = "tcp-client:127.0.0.1:9000"      # (bumble) instead of the system's Bluetooth

[[devices]]                                  # optional: only these devices are read
address = "F0:12:34:56:78:9A"
name = "血压计 (卧室)"

`transport` is a bumble transport name: `usb:0` for the first USB Bluetooth dongle, driven by
bumble instead of BlueZ; `tcp-client:HOST:PORT` for emulated homes (`linli emulate`).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_DATA_DIR = Path("~/.local/share/linli-gateway").expanduser()


class ConfigError(Exception):
    """The configuration file is missing, unreadable or wrong; the message says where."""


@dataclass(frozen=True)
class KnownDevice:
    """A device the gateway should read, by Bluetooth address."""

    address: str
    name: str | None = None


@dataclass(frozen=True)
class GatewayConfig:
    """Everything the gateway needs to run."""

    service_url: str
    token: str
    data_dir: Path = DEFAULT_DATA_DIR
    max_pending: int = 200_000
    scan_seconds: float = 10.0
    sync_interval_seconds: float = 300.0
    devices: tuple[KnownDevice, ...] = field(default_factory=tuple)
    hci_transport: str | None = None

    @property
    def outbox_path(self) -> Path:
        """Where the outbox file is."""
        return self.data_dir / "outbox.sqlite3"


_KEYS = {
    "service_url",
    "token",
    "token_file",
    "data_dir",
    "max_pending",
    "scan_seconds",
    "sync_interval_seconds",
    "devices",
    "bluetooth",
}
_BLUETOOTH_KEYS = {"transport"}


def _expect(document: dict[str, Any], key: str, kind: type | tuple[type, ...], where: Path) -> Any:
    value = document[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ConfigError(f"{where}: '{key}' has the wrong type ({type(value).__name__})")
    return value


def _path(document: dict[str, Any], key: str, where: Path) -> Path:
    """A path setting, with ~ expanded; refused when no file could ever have that name."""
    text = str(_expect(document, key, str, where))
    if "\x00" in text:
        raise ConfigError(f"{where}: '{key}' holds a NUL character, which no path can")
    try:
        return Path(text).expanduser()
    except RuntimeError:  # ~name of a user this system does not know
        home = text.split("/")[0]
        raise ConfigError(f"{where}: '{key}': {home} is the home of no user here") from None


def _token(document: dict[str, Any], where: Path) -> str:
    if "token" in document:
        token = str(_expect(document, "token", str, where))
    elif "token_file" in document:
        token_path = _path(document, "token_file", where)
        try:
            token = token_path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read token_file {token_path}: {exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{where}: token_file {token_path} is not UTF-8 text") from None
    else:
        raise ConfigError(f"{where}: set 'token' or 'token_file' (from linli admin create-gateway)")
    if not token.startswith("lgw_"):
        raise ConfigError(f"{where}: the token must be a gateway token (lgw_...)")
    return token


def _devices(document: dict[str, Any], where: Path) -> tuple[KnownDevice, ...]:
    entries = _expect(document, "devices", list, where) if "devices" in document else []
    devices = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("address"), str):
            raise ConfigError(f"{where}: devices entry {number} needs an 'address' string")
        if not isinstance(entry.get("name", ""), str):
            raise ConfigError(f"{where}: devices entry {number}: 'name' must be a string")
        devices.append(KnownDevice(entry["address"], entry.get("name")))
    return tuple(devices)


def _hci_transport(document: dict[str, Any], where: Path) -> str | None:
    if "bluetooth" not in document:
        return None
    table = _expect(document, "bluetooth", dict, where)
    unknown = set(table) - _BLUETOOTH_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown [bluetooth] setting(s): {', '.join(sorted(unknown))}")
    transport = table.get("transport")
    if transport is None:
        return None
    if not isinstance(transport, str) or not transport.strip():
        raise ConfigError(f"{where}: [bluetooth] 'transport' must be a transport name string")
    return transport.strip()


def _finite(value: float) -> bool:
    """False for TOML's nan and inf, and for integers too large for any float (10**400): none
    is a length of time or a bound the gateway can use."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def load_config(path: Path) -> GatewayConfig:
    """Read and check gateway.toml; raise ConfigError with one clear line when it is wrong."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start} cannot be read)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    unknown = set(document) - _KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s): {', '.join(sorted(unknown))}")
    if "service_url" not in document:
        raise ConfigError(f"{path}: 'service_url' is required")
    url = str(_expect(document, "service_url", str, path))
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{path}: 'service_url' must start with http:// or https://")
    numbers: dict[str, Any] = {}
    for key in ("max_pending", "scan_seconds", "sync_interval_seconds"):
        if key in document:
            numbers[key] = _expect(
                document, key, (int, float) if key != "max_pending" else int, path
            )
            if not _finite(numbers[key]) or numbers[key] <= 0:
                raise ConfigError(f"{path}: '{key}' must be positive and finite")
    data_dir = _path(document, "data_dir", path) if "data_dir" in document else None
    return GatewayConfig(
        service_url=url.rstrip("/"),
        token=_token(document, path),
        data_dir=data_dir or DEFAULT_DATA_DIR,
        devices=_devices(document, path),
        hci_transport=_hci_transport(document, path),
        **numbers,
    )
