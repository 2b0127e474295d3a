"""How the long-running commands log: text lines, or one JSON object a line for a collector."""

from __future__ import annotations

import logging

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.orjson import OrjsonFormatter

from service.settings import LogFormat

TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
# uvicorn repeats each message with terminal colours in `color_message`; the JSON keeps the
# plain one only.
_NOT_IN_JSON = [*RESERVED_ATTRS, "color_message"]


def formatter(log_format: LogFormat) -> logging.Formatter:
    """The formatter of one log line: text, or JSON with time, level, logger, message and
    the exception's traceback when there is one (fields passed in `extra` come along)."""
    if log_format == "text":
        return logging.Formatter(TEXT_FORMAT)
    return OrjsonFormatter(
        "{levelname}{name}{message}",
        style="{",
        timestamp="time",
        rename_fields={"levelname": "level", "name": "logger", "exc_info": "exception"},
        reserved_attrs=_NOT_IN_JSON,
    )


def configure_logging(log_format: LogFormat) -> None:
    """Send every logger's records (uvicorn's and warnings too) to stderr, at INFO, in
    `log_format`."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(log_format))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.captureWarnings(True)
    logging.getLogger("twilio").setLevel(logging.WARNING)  # a dozen lines per request
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn's own configuration would give these handlers of their own, in its format.
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
