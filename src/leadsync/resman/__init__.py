"""ResMan: the async client, its interface, the typed errors and the window-splitting search.

The sync engine imports from here and depends on :class:`ResManAPI`, not on HTTP.
"""

from leadsync.resman.budget import RequestBudget
from leadsync.resman.client import ResManClient
from leadsync.resman.credentials import ResManCredentials
from leadsync.resman.errors import (
    AuthenticationError,
    BusinessError,
    RateLimitedError,
    ResManConnectionError,
    ResManError,
    ResManTimeoutError,
    ResponseFormatError,
    TransientError,
    WindowOverflowError,
)
from leadsync.resman.interface import ProspectSearch, ResManAPI
from leadsync.resman.search import (
    SearchProgress,
    UnsplittableWindowError,
    search_window,
)

__all__ = [
    "AuthenticationError",
    "BusinessError",
    "ProspectSearch",
    "RateLimitedError",
    "RequestBudget",
    "ResManAPI",
    "ResManClient",
    "ResManConnectionError",
    "ResManCredentials",
    "ResManError",
    "ResManTimeoutError",
    "ResponseFormatError",
    "SearchProgress",
    "TransientError",
    "UnsplittableWindowError",
    "WindowOverflowError",
    "search_window",
]
