"""The HTTP service (FastAPI): partner uploads and receipts today; consumer exports next."""

from lcdp.service.app import create_app

__all__ = ["create_app"]
