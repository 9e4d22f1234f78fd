"""What a step of the pipeline did: its status, how much it recomputed, and the result each
caller prints (``lcdp fuse``, the fusion DAG's task, the bench)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, Field


class StepStatus(StrEnum):
    WRITTEN = "written"
    UP_TO_DATE = "up to date"


class RefreshMode(StrEnum):
    FULL = "full"  # every row computed again
    INCREMENTAL = "incremental"  # only what the new input data touches


@dataclass(frozen=True)
class Refresh:
    """How a step refreshed its table: the mode, and what it recomputed in words."""

    mode: RefreshMode
    scope: str


class StepResult(BaseModel):
    """What one fusion step did (``lcdp fuse`` prints one per table)."""

    table: str
    status: StepStatus
    mode: RefreshMode | None = None
    version: int | None = None
    rows: int | None = None
    scope: str = ""  # what was recomputed, in words
    inputs: dict[str, int | None] = Field(default_factory=dict)
    seconds: float = 0.0
