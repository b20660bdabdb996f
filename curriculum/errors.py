"""The one kind of expected failure: bad input or an impossible request, said for the user.

Every package raises its own subclass (`CatalogInvalid`, `TaskBuildError`, `SchedulerError`,
`ModelLoadError`, `RunError`, ...); the CLI catches `UserError` in one place, prints the message
without a traceback and exits 2. Anything else is a bug and shows its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """An expected failure; `lines` are printed as they are, the first after `error:`."""

    def __init__(self, *lines: str):
        self.lines = lines or ("",)
        super().__init__("\n".join(self.lines))
