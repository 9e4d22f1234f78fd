"""Errors a partner's delivery can meet, shared by landing, readers and ingestion."""


class DeliveryRefused(ValueError):
    """The whole delivery is refused (nothing of it is ingested); the message says why."""


class DeliveryInProgress(DeliveryRefused):
    """The same bytes are being ingested right now by another process: try again later."""


class DeliveryFailed(DeliveryRefused):
    """The platform failed while ingesting a delivery (not the partner's fault): the uploads
    are marked failed, so sending the same bytes again redoes them."""
