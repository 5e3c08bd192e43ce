"""Write docs/tables.md: every table a workspace holds, from the registry and a freshly built workspace.

Builds, in a temporary folder and through library calls, a small simulated workspace with everything
written (``trustecon simulate --preset small --users 200 --creators 20 --days 10 --seed 5``, then
``build``, ``feed --all``, ``kpis``, and one group-buy deal opened) and a three-row Ciao load (the
dataset tables), reads each table's Arrow schema from its Parquet footer and renders
:data:`trustecon.report.tables.TABLES` with those types (:func:`~trustecon.report.tables.render_markdown`).
tests/test_catalog.py fails when docs/tables.md is not what this writes.

Run: OPENBLAS_NUM_THREADS=1 python scripts/document_tables.py [--out docs/tables.md]   (about 15 s)
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import tempfile
import time
from pathlib import Path

from trustecon.store import Workspace

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "tables.md"

#: A deal id no simulated campaign uses (deals and campaigns share the campaign_id space).
DEAL_ID = 900_000_001
#: A tiny Ciao source: enough rows for ``id_map`` and ``ciao_rating_meta`` (types as the real files give).
CIAO_RATINGS = "user_id,product_id,category_id,rating,helpfulness,time\n1,10,3,5,4,959670000\n2,10,3,4,2,959756400\n"
CIAO_TRUST = "trustor,trustee\n1,2\n"


def simulated(path: Path) -> Workspace:
    """The small simulated workspace of the module doc, with trust, feeds and KPI tables built."""
    from trustecon.distribution.build import build_feeds
    from trustecon.engine import connect
    from trustecon.kpis.persist import write_kpis
    from trustecon.simulate.config import preset
    from trustecon.simulate.run import simulate
    from trustecon.trust.build import build

    ws = Workspace.init(path)
    con = connect("duckdb")
    simulate(ws, dataclasses.replace(preset("small"), users=200, creators=20, days=10, seed=5), calibrate=False)
    build(ws, con=con)
    build_feeds(ws, con)
    write_kpis(ws, con)
    return ws


def complete(ws: Workspace, root: Path) -> list[Workspace]:
    """``ws`` (a built simulated workspace) with a group-buy deal opened, and a new workspace under
    ``root`` holding a three-rating Ciao load: between them, every table of the registry."""
    from trustecon.datasets import load
    from trustecon.live.groupbuy import open_deal

    opened = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    open_deal(ws, DEAL_ID, creator_id=1, product_id=1, unit_price=10.0, target_quantity=5,
              opened_at=opened, deadline=opened + dt.timedelta(days=1))
    data = root / "ciao-data"
    (data / "ciao").mkdir(parents=True)
    (data / "ciao" / "ratings.csv").write_text(CIAO_RATINGS)
    (data / "ciao" / "trust.csv").write_text(CIAO_TRUST)
    load("ciao", root / "ciao-ws", data)
    return [ws, Workspace.open(root / "ciao-ws")]


def document(out: Path) -> str:
    from trustecon.report.tables import read_schemas, render_markdown

    with tempfile.TemporaryDirectory(prefix="trustecon-tables-") as tmp:
        root = Path(tmp)
        text = render_markdown(read_schemas(complete(simulated(root / "ws"), root)))
    out.write_text(text)
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DOC, help="where to write (default docs/tables.md)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    text = document(args.out)
    print(f"wrote {args.out} ({text.count(chr(10))} lines, {text.count('## `')} tables) "
          f"in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
