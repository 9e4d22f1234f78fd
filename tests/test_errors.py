"""One family of errors: every error the platform defines derives from ``LcdpError`` and lives in
``lcdp.errors``; the command line turns any failure into one of them, and the service answers
any failure in the one shape."""

from __future__ import annotations

import ast
from pathlib import Path

import httpx
import pydantic
import pytest
import sqlalchemy as sa

from lcdp import errors
from lcdp.cli import platform_error
from lcdp.errors import LcdpError

REPO = Path(__file__).resolve().parents[1]


def _exception_classes(path: Path) -> list[str]:
    """The classes a module defines whose bases name an exception or error."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            bases = [ast.unparse(b) for b in node.bases]
            if any(b.endswith(("Error", "Exception", "Refused", "Failed", "Fitted")) for b in bases):
                out.append(node.name)
    return out


def test_every_error_of_the_platform_is_one_family_in_one_module():
    elsewhere = {}
    for package in ("lcdp", "jobs", "models", "schemas"):
        for path in (REPO / package).rglob("*.py"):
            if path != REPO / "lcdp" / "errors.py":
                elsewhere.update({f"{path.relative_to(REPO)}:{name}": name for name in _exception_classes(path)})
    # the one exception: scikit-learn's own contract for an estimator used before fit
    assert elsewhere == {"models/credit_risk/estimator.py:NotFitted": "NotFitted"}
    for name in _exception_classes(REPO / "lcdp" / "errors.py"):
        cls = getattr(errors, name)
        assert issubclass(cls, LcdpError), name
        assert cls.exit_code in (2, 130) and (isinstance(cls.http_status, property) or 400 <= cls.http_status < 600)


def test_the_command_line_turns_any_failure_into_the_family():
    from typer._click import exceptions as clicks

    assert platform_error(errors.NotFound("x")).line() == "x"
    usage = platform_error(clicks.UsageError("No such option: --x"))
    assert isinstance(usage, errors.UsageError) and usage.line().startswith("No such option: --x (see 'lcdp --help')")
    assert platform_error(KeyboardInterrupt()).exit_code == 130
    with pytest.raises(pydantic.ValidationError) as invalid:
        pydantic.TypeAdapter(int).validate_python("x")
    assert isinstance(platform_error(invalid.value), errors.InvalidSetting)
    try:
        sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none").connect()
    except sa.exc.OperationalError as exc:
        unreachable = platform_error(exc)
    assert isinstance(unreachable, errors.MetadataUnavailable)
    assert "check LCDP_METADATA_URL" in unreachable.line()
    bug = platform_error(ZeroDivisionError("division by zero"))
    assert isinstance(bug, errors.UnexpectedError) and "traceback in" in bug.line() and bug.exit_code == 2


def test_the_service_answers_an_unforeseen_failure_in_the_one_shape(settings):
    """A route that fails unexpectedly still answers ``{"error", "status"}``, not a bare 500."""
    from lcdp.service import create_app
    from lcdp.service.background import free_port

    app = create_app(settings)

    @app.get("/v1/_broken")
    def broken() -> dict:
        raise ZeroDivisionError("division by zero")

    import threading

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            thread.join(0.05)
        answer = httpx.get(f"http://127.0.0.1:{port}/v1/_broken", timeout=30)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    assert answer.status_code == 500
    assert answer.json() == {"error": "ZeroDivisionError: the platform failed unexpectedly (see the service's log)",
                             "status": 500}
