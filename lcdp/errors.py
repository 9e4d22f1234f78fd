"""Errors a partner's delivery can meet, shared by landing, readers and ingestion."""


class DeliveryRefused(ValueError):
    """The whole delivery is refused (nothing of it is ingested); the message says why."""
