"""The whole push stack for end-to-end tests: the real ResMan sandbox and the real API, each
served by uvicorn on loopback, over a real (SQLite or PostgreSQL) database (see
``stack_server``; the security suite uses the same fixture)."""

from stack_server import stack

__all__ = ["stack"]
