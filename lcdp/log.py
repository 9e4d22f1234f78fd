"""Structured logging: one structlog configuration for the CLI, tasks and tests.

structlog is imported and configured on the first ``get()``, not on import: the command line
imports this module at start, and help and refusals should not pay for structlog.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import structlog

_config: dict[str, Any] = {"level": "INFO", "json": False, "done": False}


def configure(level: str = "INFO", json: bool = False) -> None:
    """Send structured logs to stderr (stdout stays free for command output and ``--json``)."""
    import structlog

    processors: list = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if json:
        processors.append(structlog.processors.format_exc_info)
    # Plain tracebacks: rich's show every frame's locals, and a Spark Connect plan held in one
    # of them turned a single failure into megabytes of log.
    renderer = (structlog.processors.JSONRenderer() if json else
                structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback))
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    _config.update(level=level, json=json, done=True)


def set_level(level: str) -> None:
    """The level for every logger, now or when logging starts (the CLI's ``--log-level``)."""
    _config["level"] = level
    if _config["done"] is True:
        configure(level, _config["json"])


def get(name: str) -> structlog.typing.FilteringBoundLogger:
    """A logger; library use (notebooks, benchmarks) logs to stderr at INFO unless the command
    line said otherwise. Inside a host that set structlog up first (an Airflow task: its
    supervisor receives the task's structured logs), the host's configuration is kept, so our
    lines reach the task's log at their own level; printed to stderr instead, Airflow would
    record every one of them as an error."""
    import structlog

    if not _config["done"]:
        if structlog.is_configured():
            _config["done"] = "host"
        else:
            configure(_config["level"], _config["json"])
    return structlog.get_logger(name)
