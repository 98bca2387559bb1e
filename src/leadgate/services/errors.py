"""Errors a use case reports to its caller (CLI, API) with a message a user can act on."""


class ServiceError(Exception):
    """Base class; ``str(error)`` is the one-line message to show."""


class NoActiveModel(ServiceError):
    def __init__(self) -> None:
        super().__init__(
            "no scoring model is active: run `leadgate model activate FILE` "
            "(or `leadgate model activate --default`)"
        )


class NotFound(ServiceError):
    """The thing named (a lead, a handoff, a message ...) does not exist."""


class HandoffNotFound(NotFound):
    def __init__(self, handoff_id: int) -> None:
        super().__init__(f"no handoff with id {handoff_id}")
        self.handoff_id = handoff_id


class LeadNotFound(NotFound):
    def __init__(self, lead_id: int) -> None:
        super().__init__(f"no lead with id {lead_id}")
        self.lead_id = lead_id


class InvalidInput(ServiceError):
    """A command with a bad value; the message names the item and the field."""


class ConcurrentUpdate(ServiceError):
    """Another writer changed the same rows at the same moment; the use case may be retried."""


class InboxFull(ServiceError):
    """Capture refused: more calls wait for the qualifier than the configured limit. The
    client should send again after ``retry_after_seconds``."""

    def __init__(self, backlog: int, limit: int, retry_after_seconds: int = 5) -> None:
        super().__init__(
            f"the inbox holds about {backlog:,} calls waiting to be qualified, at or over "
            f"LEADGATE_INBOX_MAX_BACKLOG ({limit:,}); send again in {retry_after_seconds} s"
        )
        self.backlog = backlog
        self.limit = limit
        self.retry_after_seconds = retry_after_seconds
