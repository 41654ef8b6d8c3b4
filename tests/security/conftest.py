"""The security suite runs against the same real stack as the end-to-end tests (see
``stack_server``)."""

from stack_server import stack

__all__ = ["stack"]
