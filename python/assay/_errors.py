# SPDX-License-Identifier: Apache-2.0
"""The exceptions of assay, raised with the library's own message (the text the CLI prints)."""

from __future__ import annotations


class AssayError(Exception):
    """A call into libassay failed.

    ``status`` is the library's status name (``"E_FORMAT"``, ``"E_INVAL"``...) and ``message``
    the library's message, which names the file, array, row or key at fault.
    """

    def __init__(self, message: str, status: str = "E_INTERNAL") -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class InputError(AssayError, ValueError):
    """The input or the request was bad (the CLI's exit code 2): a malformed file, arrays of
    different lengths, an unknown policy key, a value out of range."""


class LimitError(InputError):
    """The input exceeds a configured limit (``max_rows``, ``max_dims``...; docs/limits.md)."""


class ResourceError(AssayError):
    """The machine ran out of something: memory, threads, disk space (the CLI's exit code 3)."""


def _raise(message: str, status: str, is_input: int) -> AssayError:
    """Builds the exception for a status (called by the extension module)."""
    if status == "E_LIMIT":
        return LimitError(message, status)
    if is_input:
        return InputError(message, status)
    if status in ("E_NOMEM", "E_RESOURCE", "E_THREAD"):
        return ResourceError(message, status)
    return AssayError(message, status)
