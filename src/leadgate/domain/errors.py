"""Errors the domain raises; each message says what was wrong and what to do."""


class DomainError(Exception):
    """Base class for rule violations a user can cause."""


class InvalidIdentity(DomainError):
    """An email address or identity key that cannot identify a lead."""


class TransitionNotAllowed(DomainError):
    """A stage change outside the transition table without an override."""
