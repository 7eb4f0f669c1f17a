"""One family of user-facing failures.

Every exception a person may see derives from PersonaStudioError and carries a message that
says what happened and, where there is one, what to do about it. Code that catches these shows
``str(exc)``; anything else reaching the top is a bug.
"""

from __future__ import annotations


class PersonaStudioError(Exception):
    """A failure worth telling a person about, in words they can act on."""


class UserInputError(PersonaStudioError):
    """What was given (a request's field, a file to import, a database path, an export
    target) cannot be used as it is; nothing was changed. The command line exits with 2 for
    these (invalid input) and with 1 for every other failure."""


class InvalidRequestError(UserInputError, ValueError):
    """A generation request failed validation. ``field`` names the offending field."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


class TemplateError(PersonaStudioError):
    """A prompt template is missing, unreadable or names an unknown variable."""


class ModelError(PersonaStudioError):
    """A model could not be found, loaded or reached."""


class BackendError(PersonaStudioError):
    """A backend call failed. ``transient`` errors are worth retrying."""

    def __init__(self, message: str, *, transient: bool = False):
        self.transient = transient
        super().__init__(message)


class ServerUnreachableError(BackendError):
    """No server answers at the address (connection refused, unknown host, connect timeout):
    nothing is running there, as opposed to a server that answered with an error. The worker
    lets a job wait for such a server rather than fail it."""


class StageTimeoutError(BackendError):
    """A generation stage ran past its time limit.

    Not retried: a backend that hangs once would most likely hang again, and the user has
    already waited a whole stage's time limit.
    """

    def __init__(self, message: str):
        super().__init__(message, transient=False)


class GenerationCancelled(PersonaStudioError):
    """The user stopped the generation."""

    def __init__(self, message: str = "Generation cancelled by the user."):
        super().__init__(message)


class GenerationFailed(PersonaStudioError):
    """The pipeline gave up; the message says which stage and why."""


class StoreError(PersonaStudioError):
    """The database could not be opened, migrated, read or written."""


class NotFoundError(StoreError, LookupError):
    """A persona, version, job or subforum that was asked for does not exist."""


class InvalidDatabaseError(StoreError, UserInputError):
    """The path given as the database is not a FORLLM database (a folder, not SQLite, another
    application's SQLite file, a file that does not exist where one must)."""


class InvalidInputError(StoreError, ValueError):
    """A value given to the store is out of range or malformed (a rating of 7, a note that is
    too long...); the message says what is allowed. Nothing was saved."""


class NameTakenError(StoreError):
    """Another persona already has the name asked for (names are unique, ignoring case)."""


class LeaseLostError(StoreError):
    """A worker tried to finish a job it no longer holds (cancelled, recovered or re-claimed);
    nothing was saved."""


class ImportFormatError(UserInputError):
    """A file could not be read as a persona: the message names the file, says what is wrong
    with it and, where it helps, what to do."""


class ExportError(PersonaStudioError):
    """A persona could not be written to a file (bad target, disk full, no permission...)."""


class ExportTargetError(ExportError, UserInputError):
    """The path given to export to must not be written: the open database, a device, a fifo,
    a link, a folder that does not exist. Nothing was written."""
