"""How the long-running commands log: text lines, or one JSON object a line for a collector."""

from __future__ import annotations

import logging

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.orjson import OrjsonFormatter

from service.settings import LogFormat, LogLevel

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


def configure_logging(log_format: LogFormat, log_level: LogLevel = "info") -> None:
    """Send every logger's records (uvicorn's and warnings too) to stderr, from `log_level`
    up, in `log_format`."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(log_format))
    level = logging.getLevelNamesMapping()[log_level.upper()]
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.captureWarnings(True)
    if level > logging.DEBUG:  # a dozen lines per request: only when hunting a problem
        logging.getLogger("twilio").setLevel(max(level, logging.WARNING))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn's own configuration would give these handlers of their own, in its format.
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
