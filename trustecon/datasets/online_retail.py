"""UCI Online Retail (Chen, Sain & Guo 2012): a UK gift retailer's invoice lines → the event log.

Mapping (docs/datasets.md gives the reasons and the expected counts):

- the retailer is the one seller: every event has ``creator_id`` = :data:`RETAILER_ID`; customers are
  users with ``user_id`` = ``CustomerID`` (12346..18287, apart from the retailer's id);
- a line of a sale invoice is an ``order``: ``order_id`` = the invoice number, ``product_id`` = the
  StockCode's id (StockCodes sorted by their bytes, numbered from 1; case kept, so ``85123a`` and
  ``85123A`` are two products as upstream has them), ``quantity`` = Quantity, ``amount`` = Quantity ×
  UnitPrice (rounded to 6 decimals to drop float noise), at ``InvoiceDate`` read as Europe/London local
  time; a 0 price is a free line (amount 0) and is kept;
- a line of a cancellation invoice (``C…``, negative Quantity) is a ``refund`` of ``amount`` =
  −Quantity × UnitPrice ≥ 0, ``quantity`` = −Quantity, with the ``product_id``. Cancellations do not
  name the invoice they cancel, so the refund carries the ``order_id`` of the same customer's latest
  sale line of the same StockCode at or before the cancellation (DuckDB ASOF join; ties on time → the
  highest invoice number). With no such line (the sale predates the data) it carries the
  cancellation's own id, :data:`CANCEL_OFFSET` + its number;
- natural key of a line: (InvoiceNo, StockCode, Quantity, UnitPrice, InvoiceDate):
  ``event_id`` = ``online_retail:{order|refund}:{invoice}:{stockcode}:{quantity}:{price}:{time}``. Exact
  duplicate lines (and lines differing only in Description) are one event;
- the adapter quarantines, with the reason: lines without CustomerID (they cannot be attributed to a
  user), a negative UnitPrice, a sale line with Quantity ≤ 0, a cancellation line with Quantity ≥ 0,
  and an InvoiceNo that is neither digits nor ``C`` + digits (``A…`` bad-debt adjustments).
  Description and Country are dropped.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from trustecon.datasets._common import (
    ID_MAP_SCHEMA,
    LoadResult,
    Progress,
    append_events,
    connect_duckdb,
    quarantine_rows,
    record_provenance,
    require_files,
    to_batch,
)
from trustecon.events import QUARANTINE_SCHEMA
from trustecon.store import Workspace

__all__ = ["CANCEL_OFFSET", "CURRENCY", "FILES", "NAME", "RETAILER_ID", "TIMEZONE", "load_online_retail"]

NAME = "online_retail"
TIMEZONE = "Europe/London"
CURRENCY = "GBP"
#: The one seller's person id (customers are 12346..18287).
RETAILER_ID = 1_000_000_000
#: An unmatched cancellation ``C<n>`` is its own order ``CANCEL_OFFSET + n`` (sale invoices are < 10^6).
CANCEL_OFFSET = 1_000_000_000

FILES = {"lines": "uci-online-retail/online_retail.csv.gz"}

#: (reason, condition) in the order they are checked; a row gets the first that holds.
REJECTS: tuple[tuple[str, str, str], ...] = (
    ("CustomerID", "CustomerID: missing, the line cannot be attributed to a customer", "CustomerID IS NULL"),
    (
        "InvoiceNo",
        "InvoiceNo: neither a sale (digits) nor a cancellation (C + digits)",
        "NOT regexp_full_match(InvoiceNo, 'C?[0-9]+')",
    ),
    ("UnitPrice", "UnitPrice: negative", "UnitPrice < 0"),
    ("Quantity", "Quantity: not > 0 on a sale invoice", "InvoiceNo NOT LIKE 'C%' AND Quantity <= 0"),
    ("Quantity", "Quantity: not < 0 on a cancellation invoice", "InvoiceNo LIKE 'C%' AND Quantity >= 0"),
)


def _read(path: Path) -> pa.Table:
    opts = pacsv.ConvertOptions(
        column_types={
            "InvoiceNo": pa.string(),
            "StockCode": pa.string(),
            "Quantity": pa.float64(),
            "InvoiceDate": pa.timestamp("s"),
            "UnitPrice": pa.float64(),
            "CustomerID": pa.float64(),
        }
    )
    t = pacsv.read_csv(path, convert_options=opts)
    return t.append_column("_row", pa.array(range(1, t.num_rows + 1), pa.int64()))


def _key_sql(kind: str) -> str:
    return (
        f"'{NAME}:{kind}:' || InvoiceNo || ':' || StockCode || ':' || Quantity::BIGINT || ':' || UnitPrice"
        " || ':' || strftime(InvoiceDate, '%Y-%m-%dT%H:%M:%S')"
    )


def load_online_retail(ws: Workspace, data_dir: str | Path, *, progress: Progress | None = None) -> LoadResult:
    """Load the Online Retail invoice lines into ``ws`` (one transaction)."""
    data_dir = Path(data_dir)
    paths = require_files(data_dir, FILES)
    file = FILES["lines"]
    con = connect_duckdb()
    con.register("src", _read(paths["lines"]))
    reason = "CASE " + " ".join(f"WHEN {c} THEN {i}" for i, (_, _, c) in enumerate(REJECTS)) + " END"
    con.execute(f"CREATE TEMP TABLE lines AS SELECT *, {reason} AS _reject FROM src")
    con.unregister("src")
    con.execute(
        "CREATE TEMP TABLE products AS SELECT StockCode, "
        "dense_rank() OVER (ORDER BY encode(StockCode)) AS product_id "
        "FROM (SELECT DISTINCT StockCode FROM lines)"
    )
    rejected = []
    for i, (field, text, _) in enumerate(REJECTS):
        bad = con.execute(
            f"SELECT _row, to_json(l) FROM (SELECT * EXCLUDE (_reject) FROM lines WHERE _reject = {i}) l ORDER BY _row"
        ).fetchall()
        rejected.append(quarantine_rows(file, [b[0] for b in bad], text, field, [b[1] for b in bad]))
    rejects = pa.concat_tables(rejected) if rejected else QUARANTINE_SCHEMA.empty_table()
    con.execute(
        f"""CREATE TEMP TABLE ok AS
            SELECT l.*, p.product_id, CustomerID::BIGINT AS user_id,
                   timezone('{TIMEZONE}', InvoiceDate::TIMESTAMP) AS ts,
                   InvoiceNo LIKE 'C%' AS is_cancel,
                   CAST(ltrim(InvoiceNo, 'C') AS BIGINT) AS inv_num
            FROM lines l JOIN products p USING (StockCode) WHERE _reject IS NULL"""
    )
    # Latest sale line per (customer, product, time): the ASOF join's right side.
    con.execute(
        """CREATE TEMP TABLE sales AS SELECT user_id, product_id, ts, max(inv_num) AS inv_num
           FROM ok WHERE NOT is_cancel GROUP BY ALL"""
    )
    sql = f"""
        WITH orders AS (
            SELECT {_key_sql('order')} AS event_id, ts, 'order' AS kind, user_id,
                   {RETAILER_ID}::BIGINT AS creator_id, product_id::BIGINT AS product_id, inv_num AS order_id,
                   round(Quantity * UnitPrice, 6) AS amount, Quantity::BIGINT AS quantity, _row
            FROM ok WHERE NOT is_cancel
        ), refunds AS (
            SELECT {_key_sql('refund')} AS event_id, c.ts, 'refund' AS kind, c.user_id,
                   {RETAILER_ID}::BIGINT AS creator_id, c.product_id::BIGINT AS product_id,
                   coalesce(s.inv_num, {CANCEL_OFFSET} + c.inv_num) AS order_id,
                   round(-c.Quantity * c.UnitPrice, 6) AS amount, (-c.Quantity)::BIGINT AS quantity, c._row
            FROM (SELECT * FROM ok WHERE is_cancel) c
            ASOF LEFT JOIN sales s ON c.user_id = s.user_id AND c.product_id = s.product_id AND c.ts >= s.ts
        )
        SELECT * FROM orders UNION ALL SELECT * FROM refunds ORDER BY _row
    """
    batch = to_batch(con, sql, file, rejected=rejects)
    n_rows = con.execute("SELECT count(*) FROM lines").fetchall()[0][0]
    id_map = con.sql(
        f"""SELECT '{NAME}' AS source, 'user' AS entity, CAST(user_id AS VARCHAR) AS source_id, user_id AS id
                FROM (SELECT DISTINCT user_id FROM ok)
            UNION ALL SELECT '{NAME}', 'creator', 'retailer', {RETAILER_ID}
            UNION ALL SELECT '{NAME}', 'product', StockCode, product_id FROM products
            UNION ALL SELECT '{NAME}', 'order', InvoiceNo,
                CASE WHEN is_cancel THEN {CANCEL_OFFSET} + inv_num ELSE inv_num END
                FROM (SELECT DISTINCT InvoiceNo, is_cancel, inv_num FROM ok)
            ORDER BY entity, id"""
    ).to_arrow_table().cast(ID_MAP_SCHEMA)
    con.close()
    result = append_events(ws, NAME, [batch], id_map, source_rows={file: n_rows}, progress=progress)
    record_provenance(
        ws, NAME, data_dir, {file: paths["lines"]}, retailer_id=RETAILER_ID, cancel_offset=CANCEL_OFFSET,
    )
    return result
