"""API keys: who a request is (role and id), stored per workspace as hashes only.

A key is ``te_<key_id>_<secret>`` with 32 random bytes of secret (``secrets.token_urlsafe``). The
workspace keeps ``api_keys.json`` (written atomically through :meth:`Workspace.write_json`) with, per
key id, the SHA-256 of the whole key, the role and the principal's id — never the key itself, so a
copy of the workspace does not leak access. A fast hash is enough here: the secret has 256 bits of
entropy, so there is nothing to brute-force (slow hashes protect low-entropy passwords).

Roles (DESIGN.md §11): ``admin`` (no id: everything), ``brand`` (a ``brand_id``: its own campaigns,
audience reports only as aggregates over at least k users), ``creator`` (a ``creator_id``: its own
audience as aggregates), ``user`` (a ``user_id``: its own feed and its own data).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["KEYS_FILE", "ROLES", "ApiKeyError", "KeyStore", "Principal", "hash_key"]

KEYS_FILE = "api_keys.json"
ROLES: tuple[str, ...] = ("admin", "brand", "creator", "user")


class ApiKeyError(ValueError):
    """A key that cannot be made or removed (bad role, missing id, unknown key id)."""


@dataclass(frozen=True)
class Principal:
    """Who a valid key speaks for: ``role`` and, except for admin, the id of the brand/creator/user."""

    role: str
    id: int | None = None
    key_id: str = ""

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ApiKeyError(f"unknown role {self.role!r} (expected one of {', '.join(ROLES)})")
        if self.role == "admin" and self.id is not None:
            raise ApiKeyError("an admin key has no --id")
        if self.role != "admin" and self.id is None:
            raise ApiKeyError(f"a {self.role} key needs --id (the {self.role}'s id)")


def hash_key(key: str) -> str:
    """SHA-256 hex digest of the whole key string."""
    return hashlib.sha256(key.encode()).hexdigest()


class KeyStore:
    """Key id → (hash, role, id). Built from ``api_keys.json`` or, in tests, from plain keys."""

    def __init__(self, entries: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.entries: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (entries or {}).items()}

    # --------------------------------------------------------------- persistence
    @classmethod
    def load(cls, ws: Any) -> KeyStore:
        """The workspace's keys (none when it has no keys file yet)."""
        doc = ws.read_json(KEYS_FILE) or {}
        return cls(doc.get("keys", {}))

    def save(self, ws: Any) -> None:
        ws.write_json(KEYS_FILE, {"version": 1, "hash": "sha256", "keys": self.entries})

    @classmethod
    def from_plain(cls, keys: Mapping[str, Principal]) -> KeyStore:
        """A store from ``{key: Principal}`` (tests and embedding; keys are hashed at once)."""
        store = cls()
        for key, p in keys.items():
            kid = _key_id(key) or hash_key(key)[:12]
            store.entries[kid] = {"sha256": hash_key(key), "role": p.role, "id": p.id, "created": _now()}
        return store

    # --------------------------------------------------------------- operations
    def add(self, role: str, id: int | None = None, note: str = "") -> tuple[str, Principal]:
        """Make a new key for ``role``/``id``; returns the key (shown once) and its principal."""
        kid = secrets.token_hex(6)
        p = Principal(role, id, kid)
        key = f"te_{kid}_{secrets.token_urlsafe(32)}"
        self.entries[kid] = {"sha256": hash_key(key), "role": role, "id": id, "created": _now(), "note": note}
        return key, p

    def remove(self, key_id: str) -> None:
        if key_id not in self.entries:
            raise ApiKeyError(f"no key with id {key_id!r}")
        del self.entries[key_id]

    def listing(self) -> list[dict[str, Any]]:
        """Key ids with role, id, created and note (no hashes)."""
        return [
            {"key_id": k, **{f: v.get(f) for f in ("role", "id", "created", "note")}}
            for k, v in sorted(self.entries.items())
        ]

    def authenticate(self, key: str | None) -> Principal | None:
        """The principal of ``key``, or None for a missing, malformed or unknown key."""
        if not key:
            return None
        digest = hash_key(key)
        kid = _key_id(key)
        candidates = [self.entries[kid]] if kid in self.entries else list(self.entries.values())
        for e in candidates:
            if hmac.compare_digest(e["sha256"], digest):
                return Principal(e["role"], e.get("id"), kid or "")
        return None


def _key_id(key: str) -> str | None:
    parts = key.split("_", 2)
    return parts[1] if len(parts) == 3 and parts[0] == "te" else None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
