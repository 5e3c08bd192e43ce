"""Dataset adapters: real public datasets → the event log, following DESIGN.md §4's data contract.

``load(name, ws_path, data_dir)`` creates the workspace with the dataset's time zone and currency (or
opens it), appends the events and the ``id_map`` table in one transaction, and records provenance.
Each dataset has its own module with a ``load_<name>(ws, data_dir)``; docs/datasets.md gives every
mapping, what it loses, and the expected count per kind (kept in :mod:`trustecon.datasets.expected`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from trustecon.datasets._common import ID_MAP_SCHEMA, LoadResult, Progress, check_workspace, require_files
from trustecon.store import Workspace

__all__ = ["DATASETS", "ID_MAP_SCHEMA", "Dataset", "LoadResult", "Progress", "default_data_dir", "load"]


@dataclass(frozen=True)
class Dataset:
    """A loadable dataset: its adapter and the workspace settings it needs."""

    name: str
    loader: Callable[..., LoadResult]
    timezone: str
    currency: str
    #: The dataset's files, relative to the data folder.
    files: dict[str, str]


def _registry() -> dict[str, Dataset]:
    from trustecon.datasets import ciao, filmtrust, kuairand, online_retail

    return {
        m.NAME: Dataset(m.NAME, getattr(m, f"load_{m.NAME}"), m.TIMEZONE, m.CURRENCY, m.FILES)
        for m in (kuairand, filmtrust, ciao, online_retail)
    }


#: Dataset names as the CLI spells them (``online-retail``) and as modules do (``online_retail``).
DATASETS: tuple[str, ...] = ("kuairand", "filmtrust", "ciao", "online-retail")


def default_data_dir() -> Path:
    """``$TRUSTECON_DATA`` if set, else ``../shared/data`` relative to the current directory."""
    env = os.environ.get("TRUSTECON_DATA")
    return Path(env) if env else Path.cwd().parent / "shared" / "data"


def load(
    name: str,
    ws_path: str | os.PathLike[str],
    data_dir: str | os.PathLike[str] | None = None,
    *,
    progress: Progress | None = None,
) -> LoadResult:
    """Load dataset ``name`` into the workspace at ``ws_path`` (created if it does not exist).

    Loading the same dataset again adds nothing. A workspace holding a different dataset, or with
    another time zone or currency, is refused with a :class:`~trustecon.store.WorkspaceError`.
    """
    key = name.replace("-", "_")
    registry = _registry()
    if key not in registry:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    ds = registry[key]
    data = Path(data_dir) if data_dir is not None else default_data_dir()
    require_files(data, ds.files)  # before the workspace is created: a missing file leaves nothing behind
    ws: Workspace = check_workspace(Path(ws_path), ds.name, ds.timezone, ds.currency)
    return ds.loader(ws, data, progress=progress)
