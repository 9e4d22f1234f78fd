"""How an Airflow task reports the platform's errors (the DAG files import this inside their
tasks; their Assets and schedules come from ``schemas/lake.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def task_outcome(what: str) -> Iterator[None]:
    """Turn what a task's work raises into the task's outcome: a platform error that means
    "nothing to do yet" skips the task; one that a retry would only repeat (and the engine
    running out of its memory pool) fails it at once, in one line, without retries; anything
    else fails it for the DAG's retries. ``what`` names the work in that line."""
    from airflow.exceptions import AirflowFailException, AirflowSkipException

    from lcdp.errors import LcdpError
    from lcdp.lake.engine import permanent_failure

    try:
        yield
    except LcdpError as exc:
        if exc.skips_task:
            raise AirflowSkipException(exc.line()) from None
        if not exc.retry:
            raise AirflowFailException(f"{what}: {exc.line()}") from None
        raise
    except Exception as exc:
        reason = permanent_failure(exc)
        if reason:  # the same error again on retry: fail now, in one line, no retries
            raise AirflowFailException(f"{what}: {reason}") from None
        raise
