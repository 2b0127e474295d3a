"""The one settings object, read from LINLI_* environment variables once at start-up."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import psycopg
from psycopg.conninfo import conninfo_to_dict
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """The platform's per-user data directory for Linli (e.g. ~/.local/share/linli)."""
    return Path(platformdirs.user_data_dir("linli", appauthor=False))


class Settings(BaseSettings):
    """Linli configuration. Every field is set by the environment variable LINLI_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="LINLI_", env_file=None, extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL >= 15 to use (a libpq URL or key=value string); unset means"
        " Linli runs its own embedded server.",
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where the embedded PostgreSQL keeps its data, among others.",
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTP API listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port the HTTP API listens on.")
    database_name: str = Field(
        default="linli", description="Database created inside the embedded server."
    )
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=10, ge=1)
    max_batch_readings: int = Field(
        default=1000, ge=1, description="Most readings one POST /v1/readings may carry."
    )
    max_body_bytes: int = Field(
        default=2_000_000, ge=1024, description="Largest request body accepted, in bytes."
    )
    clock_skew_seconds: float = Field(
        default=300.0,
        ge=0,
        description="A reading timed further than this in the future is flagged as a clock"
        " problem.",
    )
    run_worker: bool = Field(
        default=True,
        description="Run the background jobs (detection) inside `linli serve`; turn off when"
        " separate `linli worker` processes run them.",
    )
    migrate_on_start: bool = Field(
        default=True, description="Apply pending migrations when the service starts."
    )

    @field_validator("database_url")
    @classmethod
    def _parseable_conninfo(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            conninfo_to_dict(value)
        except psycopg.ProgrammingError as exc:
            raise ValueError(f"not a PostgreSQL connection string: {exc}") from None
        return value

    @property
    def embedded(self) -> bool:
        """True when Linli runs its own PostgreSQL instead of the one in database_url."""
        return self.database_url is None
