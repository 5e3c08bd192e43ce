"""Ciao (Tang, Gao & Liu, WSDM/KDD 2012): product reviews with ratings, plus a trust network → events.

Mapping (docs/datasets.md gives the reasons and the expected counts):

- each row of ``ratings.csv`` is a ``rate`` at its ``time`` (Unix seconds; every value is 07:00 UTC,
  i.e. a date at midnight UTC−7, which falls on the same UTC date) with ``user_id``,
  ``content_id`` = ``product_id`` and ``value`` = ``rating``. Natural key (user, product, time):
  ``event_id`` = ``ciao:rate:{user}:{product}:{time}``. Exact duplicate rows, and rows repeating the key
  that differ only in category or helpfulness, are one event; a repeat with a different rating is a
  conflict the store quarantines (the first row in file order stands);
- a rating of 0 (34 rows) lies outside Ciao's 1–5 stars: the adapter quarantines it with that reason;
- ``category_id`` and ``helpfulness`` have no column in the event log: they are kept in the derived
  table ``ciao_rating_meta`` (event_id, user_id, product_id, category_id, helpfulness), one row per
  stored ``rate`` event, from the same row as the event;
- each row of ``trust.csv`` is a ``follow`` (user_id = trustor, creator_id = trustee) at
  :data:`FOLLOW_TS` (the data has no time; before the first rating, so the trust graph is visible at
  every "as of"), ``event_id`` = ``ciao:follow:{trustor}:{trustee}``;
- **ids**: the MANIFEST measured that trust ids do not behave like rating ids in this copy, so the two
  are kept apart: trust-network people are ``TRUST_OFFSET + id``, raters keep their id. ``id_map``
  keeps both (entities ``user`` and ``trust_user``), so the upstream claim of one id space can still be
  tested by joining on ``source_id``; ``link_trust_ids=True`` loads them as one id space instead.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from trustecon.datasets._common import (
    Batch,
    LoadResult,
    Progress,
    append_events,
    connect_duckdb,
    events_table,
    ids_table,
    quarantine_rows,
    record_provenance,
    require_files,
    to_batch,
)
from trustecon.store import Workspace

__all__ = ["CURRENCY", "FILES", "FOLLOW_TS", "NAME", "TIMEZONE", "TRUST_OFFSET", "load_ciao"]

NAME = "ciao"
TIMEZONE = "UTC"
#: Ciao has no money; the site was ciao.co.uk, so GBP.
CURRENCY = "GBP"
FOLLOW_TS = datetime(2000, 1, 1, tzinfo=UTC)
#: Trust-network person ``p`` is ``TRUST_OFFSET + p`` (raters are 1..7,375, trust ids 1..2,378).
TRUST_OFFSET = 1_000_000_000

FILES = {"ratings": "ciao/ratings.csv", "trust": "ciao/trust.csv"}


def _read(path: Path) -> pa.Table:
    t = pacsv.read_csv(path)
    return t.append_column("_row", pa.array(range(1, t.num_rows + 1), pa.int64()))


def load_ciao(
    ws: Workspace,
    data_dir: str | Path,
    *,
    progress: Progress | None = None,
    link_trust_ids: bool = False,
) -> LoadResult:
    """Load Ciao's ratings and trust edges into ``ws`` (one transaction)."""
    data_dir = Path(data_dir)
    paths = require_files(data_dir, FILES)
    offset = 0 if link_trust_ids else TRUST_OFFSET
    ratings, trust = _read(paths["ratings"]), _read(paths["trust"])
    con = connect_duckdb()
    con.register("ratings", ratings)
    bad = con.sql("SELECT _row, to_json(r) AS raw FROM ratings r WHERE rating = 0 ORDER BY _row").fetchall()
    rejected = quarantine_rows(
        FILES["ratings"], [b[0] for b in bad], "rating: 0 is outside Ciao's 1-5 star scale", "rating",
        [b[1] for b in bad],
    )
    rate = to_batch(
        con,
        f"""SELECT '{NAME}:rate:' || user_id || ':' || product_id || ':' || time AS event_id,
                   make_timestamp(time * 1000000)::TIMESTAMPTZ AS ts, 'rate' AS kind,
                   user_id, product_id AS content_id, rating::DOUBLE AS value, _row
            FROM ratings WHERE rating <> 0 ORDER BY _row""",
        FILES["ratings"],
        rejected=rejected,
    )
    # Metadata of the row each stored event comes from: the first row (file order) of its key.
    meta = con.sql(
        f"""SELECT '{NAME}:rate:' || user_id || ':' || product_id || ':' || time AS event_id,
                   user_id, product_id, category_id, helpfulness
            FROM ratings WHERE rating <> 0
            QUALIFY row_number() OVER (PARTITION BY user_id, product_id, time ORDER BY _row) = 1
            ORDER BY event_id"""
    ).to_arrow_table()
    n = trust.num_rows
    trustor = [offset + x for x in trust["trustor"].to_pylist()]
    trustee = [offset + x for x in trust["trustee"].to_pylist()]
    follow = Batch(
        file=FILES["trust"],
        events=events_table(
            {
                "event_id": [f"{NAME}:follow:{a}:{b}" for a, b in zip(trust["trustor"].to_pylist(),
                                                                   trust["trustee"].to_pylist(), strict=True)],
                "ts": [FOLLOW_TS] * n,
                "kind": ["follow"] * n,
                "user_id": trustor,
                "creator_id": trustee,
            },
            n,
        ),
        rows=trust["_row"].combine_chunks(),
    )
    raters = sorted(set(ratings["user_id"].to_pylist()))
    trust_people = sorted(set(trust["trustor"].to_pylist()) | set(trust["trustee"].to_pylist()))
    products = sorted(set(ratings["product_id"].to_pylist()))
    id_map = pa.concat_tables(
        [
            ids_table(NAME, "user", raters, raters),
            ids_table(NAME, "trust_user", trust_people, [offset + p for p in trust_people]),
            ids_table(NAME, "content", products, products),
        ]
    )
    con.close()
    result = append_events(
        ws, NAME, [rate, follow], id_map,
        source_rows={FILES["ratings"]: ratings.num_rows, FILES["trust"]: n},
        progress=progress, tables={"ciao_rating_meta": meta},
    )
    record_provenance(
        ws, NAME, data_dir, {FILES[k]: p for k, p in paths.items()},
        follow_ts=FOLLOW_TS.isoformat(), trust_offset=offset, link_trust_ids=link_trust_ids,
    )
    return result
