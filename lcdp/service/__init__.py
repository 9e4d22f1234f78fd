"""The HTTP service (FastAPI): partner uploads and receipts, consumer exports."""

from lcdp.service.app import create_app

__all__ = ["create_app"]
