"""The platform's errors: one family under ``LcdpError``, all in this module.

An error says in one line what went wrong and what to do about it, and carries how each edge
answers it:

- the command line prints ``error: <message>`` on stderr (under ``--json`` also
  ``{"error", "exit_code"}`` as the last line of stdout) and exits with ``exit_code``;
- the service answers ``http_status`` with ``{"error", "status"}`` (Delta Sharing's
  ``{errorCode, message}`` under its prefix) and audits the refusal;
- an Airflow task is skipped when ``skips_task`` (there is nothing to do yet), fails at once
  without retries when ``retry`` is False (the same error would come again), and otherwise
  fails and is retried as its DAG says.

Each edge converts an ``LcdpError`` in one place (``lcdp.cli.run``, the service's exception
handler, ``lcdp.pipeline.airflow.task_outcome``). Errors keep a built-in base where callers and
libraries expect one (a refused delivery is a ``ValueError``, an unknown table a ``KeyError``).
"""

from __future__ import annotations

from typing import Any, ClassVar


class LcdpError(Exception):
    """Base of every error the platform reports to a user."""

    exit_code: ClassVar[int] = 2
    http_status: ClassVar[int] = 500
    skips_task: ClassVar[bool] = False
    retry: ClassVar[bool] = True

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint  # what the user should do, when the message does not say it already

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def line(self) -> str:
        """The error as one line (the CLI's and the service's answer)."""
        return " ".join(str(self).split())

    @property
    def headers(self) -> dict[str, str] | None:
        """Headers the service's answer carries (a challenge, for a missing key)."""
        return None

    def body(self) -> dict[str, Any] | None:
        """The service's answer body when it is not the usual ``{"error", "status"}``."""
        return None


# --------------------------------------------------------------------------- requests (the service)


class Refused(LcdpError):
    """A request or an input the platform will not take as it is: the caller's to fix."""

    http_status = 422
    retry = False


class BadRequest(Refused):
    http_status = 400


class Unauthorized(Refused):
    """No key, or a key that is unknown, expired or revoked."""

    http_status = 401

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(Refused):
    http_status = 403


class NotFound(Refused, LookupError):
    http_status = 404


class RequestTimeout(Refused):
    http_status = 408


class Gone(Refused):
    http_status = 410


class UnsupportedMediaType(Refused):
    http_status = 415


class WebRefusal(Refused):
    """A refusal the web framework made itself (an unknown route, a method a route does not
    take), answered with its status and headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self._headers = status, headers
        self.args = (status, message, headers)

    @property
    def http_status(self) -> int:  # type: ignore[override]
        return self.status

    @property
    def headers(self) -> dict[str, str] | None:
        return self._headers


class SharingError(WebRefusal):
    """A Delta Sharing refusal: answered as the protocol's ``{errorCode, message}``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, message, headers)
        self.code = code
        self.args = (status, code, message, headers)

    def body(self) -> dict[str, Any]:
        return {"errorCode": self.code, "message": self.message}


class PageRefused(Refused):
    """A dashboard page the signed-in key may not see, or that cannot be shown: answered as an
    HTML page in the dashboard's language, with the dashboard's navigation."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.args = (status, message)

    @property
    def http_status(self) -> int:  # type: ignore[override]
        return self.status


# --------------------------------------------------------------------------- the command line and settings


class UsageError(Refused, ValueError):
    """A command (or a function) was called with arguments it cannot take."""


class Interrupted(LcdpError):
    exit_code = 130


class HomeError(Refused, ValueError):
    """The platform home is missing or is not a home."""


class InvalidSetting(Refused, ValueError):
    """A setting (``LCDP_*``) has a value the platform cannot use."""


class MetadataUnavailable(LcdpError):
    """The metadata database cannot be reached or used."""

    http_status = 503


class UnexpectedError(LcdpError):
    """A failure the platform did not foresee: a bug. Its traceback is kept in a file the
    message names."""


# --------------------------------------------------------------------------- partners' deliveries


class ContractError(Refused, ValueError):
    """A contract file is malformed, or a partner/dataset is unknown."""

    http_status = 404


class DeliveryRefused(Refused, ValueError):
    """The whole delivery is refused (nothing of it is ingested); the message says why."""

    def __init__(self, message: str, *, hint: str | None = None, upload_id: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.upload_id = upload_id  # when the delivery landed before it was refused


class DeliveryInProgress(DeliveryRefused):
    """The same bytes are being ingested right now by another process: try again later."""

    http_status = 409
    retry = True


class DeliveryFailed(DeliveryRefused):
    """The platform failed while ingesting a delivery (not the partner's fault): the uploads
    are marked failed, so sending the same bytes again redoes them."""

    retry = True


class UnsafeFileName(DeliveryRefused):
    """A delivered file name tries to leave its landing folder."""


class DeliveryTooLarge(DeliveryRefused):
    """A delivery exceeds the configured size limit."""

    http_status = 413


class HeaderTooLong(DeliveryRefused):
    """A CSV header line runs past the limit a header may have."""


class FeedConfigError(Refused, ValueError):
    """A feed cannot run: its source or credentials are not configured."""


class NothingNew(LcdpError, RuntimeError):
    """Nothing new since the last run: a feed found no new delivery, a model's inputs hold the
    data its newest version was trained on (the DAG skips, publishing no Asset event)."""

    skips_task = True


class PullError(LcdpError, RuntimeError):
    """The pull cannot go on now; the message says whether retrying later can help."""


class BadApiKey(PullError):
    """ERROR-290: retrying will not help; fix the key."""

    retry = False


class QuotaExceeded(PullError):
    """ERROR-337: the daily quota is spent; resume tomorrow (the checkpoint keeps the place)."""


class BadShape(PullError):
    """The API answered JSON that is not its envelope: fail loudly, do not guess."""

    retry = False


# --------------------------------------------------------------------------- the lake and the pipeline


class UnknownTable(NotFound, KeyError):
    """No lake table (or no fusion step) of that name, or one not written yet."""

    def __str__(self) -> str:  # a KeyError would quote its message
        return LcdpError.__str__(self)


class UnknownName(NotFound, KeyError):
    """No fused table, model or product of that name in ``lcdp.declarations``."""

    def __str__(self) -> str:
        return LcdpError.__str__(self)


class EngineError(LcdpError, RuntimeError):
    """The Spark engine could not be started or reached."""

    http_status = 503


class StepFailed(LcdpError, RuntimeError):
    """A pipeline step failed in a way a retry would only repeat (the engine ran out of its
    memory pool); the message says which setting to change."""

    retry = False


class ExportUnavailable(LcdpError, LookupError):
    """A product's sources are not in the lake yet: its build is skipped."""

    http_status = 404
    skips_task = True


class UnknownProduct(UnknownName):
    """No data product of that name."""


class DisclosureFailed(LcdpError, RuntimeError):
    """The audit still finds under-protected cells: nothing of the product is published."""

    retry = False


class NotBuilt(NotFound):
    """A product a page needs has no version yet."""


class OutsideRetention(Gone):
    """A version of a data product that consumers may no longer (or never) read."""


class GrantError(Refused, ValueError):
    """A grant cannot be changed as asked."""


class KeyRequestError(Refused, ValueError):
    """An API key cannot be made as asked."""


class UnknownVersion(UnknownTable):
    """A lake table has no such version: it has not reached it, or the version is negative."""


# --------------------------------------------------------------------------- models


class NotEnoughHistory(LcdpError, ValueError):
    """The lake does not hold enough history to train and judge a model: training is skipped
    until more has been delivered."""

    http_status = 409
    skips_task = True


class InsufficientData(NotEnoughHistory):
    """The credit-risk model: too few months with complete labels, or too few credit events."""


class InsufficientHistory(NotEnoughHistory):
    """The spending forecaster: too few months of spending at a known region and industry."""


class NoChampion(NotFound):
    """A registered model has no version with the ``champion`` alias: scoring is skipped."""

    skips_task = True


class UnknownRun(NotFound):
    """No MLflow run of that id, or not a training run of that model."""


# --------------------------------------------------------------------------- operations


class BenchFailed(LcdpError, RuntimeError):
    """A stage of ``lcdp bench`` failed; the report names the reasons."""


class ServiceError(LcdpError, RuntimeError):
    """A service did not start or did not become healthy; the message names its log."""

    http_status = 503


class PipelineFailed(LcdpError, RuntimeError):
    """A DAG run the scheduler started failed, or the pipeline did not finish in time."""


class AirflowError(LcdpError, RuntimeError):
    """An Airflow command failed; the message ends with the tail of its output."""


class PermanentTaskFailure(AirflowError):
    """A task failed with an error that a retry would only repeat (``AirflowFailException``:
    the engine's memory pool, a contract); its message is that one line."""

    retry = False
