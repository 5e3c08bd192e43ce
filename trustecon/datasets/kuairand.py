"""KuaiRand-Pure (Gao et al., CIKM 2022): Kuaishou short-video logs → the event log.

Mapping (docs/datasets.md gives the reasons and the expected counts):

- each log row is one exposure of ``video_id`` to ``user_id`` at ``time_ms`` (epoch ms, a UTC instant):
  an ``impression``; a clicked row (``is_click=1``) also a ``view`` with ``watch_ms=play_time_ms`` and
  ``duration_ms``; its flags add ``like`` (is_like), ``comment`` (is_comment), ``share``
  (is_forward), ``hate`` (is_hate), ``profile_visit`` (is_profile_enter) and ``follow`` (is_follow),
  all toward the video's author at the row's time;
- ``creator_id`` = :data:`AUTHOR_OFFSET` + ``author_id`` from ``video_features_basic_pure.csv``:
  authors and users are separate id spaces upstream, so authors are moved apart by a fixed offset;
  ``user_id`` and ``content_id`` (= ``video_id``) are kept as they are;
- each video of ``video_features_basic_pure.csv`` is a ``publish`` at 00:00 Asia/Shanghai of its
  ``upload_dt`` (the file gives a date only), with ``duration_ms`` = ``video_duration``;
- ``surface`` is ``discover`` for every row: the log is the recommender's exposures and the meaning
  of ``tab`` (0–14) is not published, so it is dropped rather than guessed;
- ``event_id`` = ``kuairand:{user_id}:{video_id}:{time_ms}:{kind}`` (``kuairand:publish:{video_id}``).
  The natural key of a row is (user, video, time_ms): exact duplicate rows, and rows repeating a key
  whose only differences are the derived ``date``/``hourmin`` columns, are one event; rows repeating a
  key with a different ``play_time_ms`` give a ``view`` that the store quarantines as a conflict
  (the first row in file order stands).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from trustecon.datasets._common import (
    LoadResult,
    Progress,
    append_events,
    connect_duckdb,
    ids_table,
    record_provenance,
    require_files,
    to_batch,
)
from trustecon.store import Workspace

__all__ = ["AUTHOR_OFFSET", "FILES", "NAME", "TIMEZONE", "CURRENCY", "load_kuairand", "row_events_sql"]

NAME = "kuairand"
TIMEZONE = "Asia/Shanghai"
#: KuaiRand has no money; the workspace keeps the platform's currency for any later joins.
CURRENCY = "CNY"
#: ``creator_id = AUTHOR_OFFSET + author_id``. Users are 0..27,284 and authors 0..8,733,983 upstream,
#: so 10^9 keeps them apart with room to spare, and a reader can subtract it by eye.
AUTHOR_OFFSET = 1_000_000_000

FILES = {
    "log_t0": "kuairand-pure/log_standard_4_25_to_4_30_pure.csv",
    "log_t1": "kuairand-pure/log_standard_5_01_to_5_08_pure.csv",
    "videos": "kuairand-pure/video_features_basic_pure.csv",
}

#: (kind, condition on the row) in the order a row's events are written.
ROW_KINDS: tuple[tuple[str, str], ...] = (
    ("impression", "TRUE"),
    ("view", "is_click = 1"),
    ("like", "is_like = 1"),
    ("comment", "is_comment = 1"),
    ("share", "is_forward = 1"),
    ("hate", "is_hate = 1"),
    ("profile_visit", "is_profile_enter = 1"),
    ("follow", "is_follow = 1"),
)


def _read_csv(path: Path) -> pa.Table:
    t = pacsv.read_csv(path)
    return t.append_column("_row", pa.array(range(1, t.num_rows + 1), pa.int64()))


def row_events_sql(log: str = "log", videos: str = "videos") -> str:
    """SQL from registered tables ``log`` (a log file with ``_row``) and ``videos`` to candidate events."""
    kinds = ", ".join(f"('{k}', {i})" for i, (k, _) in enumerate(ROW_KINDS))
    cond = " ".join(f"WHEN '{k}' THEN {c}" for k, c in ROW_KINDS)
    return f"""
        SELECT
            'kuairand:' || l.user_id || ':' || l.video_id || ':' || l.time_ms || ':' || k.kind AS event_id,
            make_timestamp(l.time_ms * 1000)::TIMESTAMPTZ AS ts,
            k.kind AS kind,
            l.user_id::BIGINT AS user_id,
            ({AUTHOR_OFFSET} + v.author_id)::BIGINT AS creator_id,
            l.video_id::BIGINT AS content_id,
            'discover' AS surface,
            CASE WHEN k.kind = 'view' THEN l.play_time_ms END::BIGINT AS watch_ms,
            CASE WHEN k.kind = 'view' THEN l.duration_ms END::BIGINT AS duration_ms,
            l._row AS _row
        FROM {log} l
        LEFT JOIN {videos} v ON v.video_id = l.video_id
        CROSS JOIN (VALUES {kinds}) k(kind, ord)
        WHERE CASE k.kind {cond} END
        ORDER BY l._row, k.ord
    """


def _publish_sql(videos: str = "videos") -> str:
    return f"""
        SELECT
            'kuairand:publish:' || video_id AS event_id,
            timezone('{TIMEZONE}', upload_dt::TIMESTAMP) AS ts,
            'publish' AS kind,
            ({AUTHOR_OFFSET} + author_id)::BIGINT AS creator_id,
            video_id::BIGINT AS content_id,
            CASE WHEN NOT isnan(video_duration) THEN video_duration END::BIGINT AS duration_ms,
            _row
        FROM {videos}
        ORDER BY _row
    """


def load_kuairand(ws: Workspace, data_dir: str | Path, *, progress: Progress | None = None) -> LoadResult:
    """Load both standard logs and the video table of KuaiRand-Pure into ``ws`` (one transaction)."""
    data_dir = Path(data_dir)
    paths = require_files(data_dir, FILES)
    con = connect_duckdb()
    videos = _read_csv(paths["videos"])
    con.register("videos", videos)
    source_rows = {FILES["videos"]: videos.num_rows}
    logs = {}
    for key in ("log_t0", "log_t1"):
        logs[key] = _read_csv(paths[key])
        source_rows[FILES[key]] = logs[key].num_rows

    def batches():
        yield to_batch(con, _publish_sql(), FILES["videos"])
        for key, table in logs.items():
            con.register("log", table)
            yield to_batch(con, row_events_sql(), FILES[key])
            con.unregister("log")

    users = sorted(
        set(logs["log_t0"]["user_id"].to_pylist()) | set(logs["log_t1"]["user_id"].to_pylist())
    )
    authors = sorted(set(videos["author_id"].to_pylist()))
    vids = sorted(videos["video_id"].to_pylist())
    id_map = pa.concat_tables(
        [
            ids_table(NAME, "user", users, users),
            ids_table(NAME, "creator", authors, [AUTHOR_OFFSET + a for a in authors]),
            ids_table(NAME, "content", vids, vids),
        ]
    )
    result = append_events(ws, NAME, batches(), id_map, source_rows=source_rows, progress=progress)
    con.close()
    record_provenance(
        ws,
        NAME,
        data_dir,
        {FILES[k]: p for k, p in paths.items()},
        author_offset=AUTHOR_OFFSET,
        surface="discover",
    )
    return result
