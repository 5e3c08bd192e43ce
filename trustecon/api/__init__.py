"""The HTTP API and dashboard (DESIGN.md §11): ``create_app(workspace)``; ``trustecon serve WS`` runs it.

- :mod:`.app`: the FastAPI application (endpoints, OpenAPI at ``/openapi.json``, dashboard at ``/dashboard``);
- :mod:`.service`: the library calls behind each endpoint;
- :mod:`.access`: who may read what, and k-anonymity for audience aggregates;
- :mod:`.keys`: API keys per workspace (hashes only), roles admin / brand / creator / user.

Importing this package needs the ``serve`` extra (FastAPI, uvicorn).
"""

from trustecon.api.access import DEFAULT_K, suppress
from trustecon.api.app import create_app
from trustecon.api.keys import ROLES, ApiKeyError, KeyStore, Principal

__all__ = ["DEFAULT_K", "ROLES", "ApiKeyError", "KeyStore", "Principal", "create_app", "suppress"]
