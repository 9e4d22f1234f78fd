"""Structured logging: one structlog configuration for the CLI, tasks and tests."""

from __future__ import annotations

import logging
import sys

import structlog


def configure(level: str = "INFO", json: bool = False) -> None:
    """Send structured logs to stderr (stdout stays free for command output and ``--json``)."""
    processors: list = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # Plain tracebacks: rich's show every frame's locals, and a Spark Connect plan held in one
    # of them turned a single failure into megabytes of log.
    if json:
        processors.append(structlog.processors.format_exc_info)
    renderer = (structlog.processors.JSONRenderer() if json else
                structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback))
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def get(name: str) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(name)


# Library use (Airflow tasks, notebooks, benchmarks) gets stderr logging too: stdout belongs
# to the caller. The CLI reconfigures with the user's level.
configure()
