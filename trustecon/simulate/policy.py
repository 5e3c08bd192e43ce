"""The distribution-policy protocol the simulator runs (DESIGN.md §3, "no arrow runs upward").

The simulator decides each day which creators each active user is shown by asking a :class:`Policy`.
Its built-in policies (``traffic``, ``algorithm``, ``trust``) may read the world's latent state; any
other policy (the engine's own feed, from the apps layer) sees only the events the platform logged,
through :meth:`Policy.observe`, and the public context of the day. The simulator never imports the
feed: the caller passes the implementation in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

__all__ = ["DayContext", "Policy"]


@dataclass(frozen=True)
class DayContext:
    """What a policy may know about one simulated day, in ids of the event log.

    - ``day``: 0-based day number; ``date``: its ISO date in the workspace time zone.
    - ``user_ids``: the users active today (int64, shape ``(n,)``); each gets ``slots`` feed slots.
    - ``creator_ids``: creators with fresh content or a live room today (int64, shape ``(m,)``).
    - ``follows``: current follow graph as a sparse 0/1 matrix, rows aligned with ``user_ids``,
      columns with ``creator_ids``.
    - ``slots``: feed slots per active user today.
    """

    day: int
    date: str
    user_ids: np.ndarray
    creator_ids: np.ndarray
    follows: sp.csr_matrix
    slots: int


@runtime_checkable
class Policy(Protocol):
    """A distribution policy: which creators each active user is shown today."""

    name: str

    def observe(self, events: pa.Table) -> None:
        """Take the events the platform logged since the last call (event schema). May do nothing."""

    def exposures(self, ctx: DayContext, rng: np.random.Generator) -> np.ndarray:
        """Creator choice per user and slot: an int64 array of shape ``(len(ctx.user_ids), ctx.slots)``
        holding indices into ``ctx.creator_ids`` (``-1`` for an empty slot). A creator may appear at
        most once per user per day."""
        ...
