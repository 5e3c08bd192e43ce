"""Expected counts per kind after the data contract, each DERIVED from the dataset's MANIFEST.md.

One source of truth: docs/datasets.md's count tables are rendered from :data:`EXPECTED` by
``python -m trustecon.datasets.expected docs/datasets.md`` (it rewrites the marked blocks), and
tests/test_datasets.py checks both that a load gives these counts and that the doc shows them.

Each count is a sum of terms: numbers quoted from the MANIFEST ("MANIFEST") and corrections measured on
the raw files with plain SQL independent of the adapters ("measured"; the queries are in
docs/datasets.md). ``duplicates`` are candidate events the store skipped as exact repeats of an
``event_id``; ``quarantined`` are rows rejected by the adapter or as ``event_id`` conflicts.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["EXPECTED", "Count", "render", "update_doc"]


@dataclass(frozen=True)
class Count:
    """An expected count and how it is derived: ``(label, signed number)`` terms that add up to it."""

    terms: tuple[tuple[str, int], ...]

    @property
    def value(self) -> int:
        return sum(n for _, n in self.terms)


def _c(*terms: tuple[str, int]) -> Count:
    return Count(tuple(terms))


_T0, _T1 = "t0 04-25..04-30", "t1 05-01..05-08"


def _kr_flag(name: str, m0: int, e0: int, k0: int, m1: int, e1: int, k1: int) -> Count:
    return _c(
        (f"{_T0}: rows with {name} (MANIFEST)", m0),
        (f"{_T0}: of them exact duplicate rows (measured)", -e0),
        (f"{_T0}: of them repeats of a (user, video, time_ms) key (measured)", -k0),
        (f"{_T1}: rows with {name} (MANIFEST)", m1),
        (f"{_T1}: of them exact duplicate rows (measured)", -e1),
        (f"{_T1}: of them repeats of a (user, video, time_ms) key (measured)", -k1),
    )


EXPECTED: dict[str, dict[str, Count]] = {
    "kuairand": {
        "publish": _c(("rows of video_features_basic_pure.csv (MANIFEST)", 7583)),
        "impression": _c(
            (f"{_T0}: rows (MANIFEST)", 94784),
            (f"{_T0}: exact duplicate rows (MANIFEST)", -2750),
            (f"{_T0}: other rows repeating a (user, video, time_ms) key (measured)", -229),
            (f"{_T1}: rows (MANIFEST)", 133545),
            (f"{_T1}: exact duplicate rows (MANIFEST)", -2710),
            (f"{_T1}: other rows repeating a (user, video, time_ms) key (measured)", -194),
            (f"{_T1}: rows repeating a key of t0 (logged in both files, measured)", -2),
        ),
        # The MANIFEST gives no click count: is_click sums are measured.
        "view": _c(
            (f"{_T0}: rows with is_click=1 (measured)", 41503),
            (f"{_T0}: of them exact duplicate rows (measured)", -385),
            (f"{_T0}: of them repeats of a key (measured)", -22),
            (f"{_T1}: rows with is_click=1 (measured)", 59397),
            (f"{_T1}: of them exact duplicate rows (measured)", -445),
            (f"{_T1}: of them repeats of a key (measured)", -40),
        ),
        "like": _kr_flag("is_like", 1625, 22, 1, 2290, 19, 1),
        "comment": _kr_flag("is_comment", 220, 3, 1, 359, 1, 0),
        "share": _kr_flag("is_forward", 76, 0, 0, 119, 1, 0),
        "hate": _kr_flag("is_hate", 65, 2, 0, 125, 1, 0),
        "profile_visit": _kr_flag("is_profile_enter", 1840, 15, 0, 2391, 13, 5),
        "follow": _kr_flag("is_follow", 128, 1, 1, 176, 12, 0),
        "quarantined": _c(
            (f"{_T0}: clicked rows repeating a key with another play_time_ms (view conflict, measured)", 2),
            (f"{_T1}: the same (measured)", 2),
        ),
    },
    "filmtrust": {
        "rate": _c(
            ("rating rows, 4 shards (MANIFEST)", 35497),
            ("rows repeating a (user, item) pair (MANIFEST: 3 duplicated pairs)", -3),
        ),
        "follow": _c(("trust edges, no duplicates (MANIFEST)", 1853)),
        "quarantined": _c(("repeated pairs with a different rating: 308/207, 308/235 (measured)", 2)),
        "duplicates": _c(("repeated pair with the same rating: 308/12 (measured)", 1)),
    },
    "ciao": {
        "rate": _c(
            ("rating rows (MANIFEST)", 284086),
            ("rating 0, outside 1-5 (MANIFEST rating distribution)", -34),
            ("exact duplicate rows (measured)", -190),
            ("other rows repeating a (user, product, time) key (measured)", -168),
        ),
        "follow": _c(("trust edges, no duplicates (MANIFEST)", 57544)),
        "quarantined": _c(
            ("rating 0 (MANIFEST)", 34),
            ("key repeats with a different rating than the key's first row (measured)", 73),
        ),
        "duplicates": _c(
            ("exact duplicate rows (measured)", 190),
            ("key repeats differing only in category or helpfulness (measured)", 95),
        ),
    },
    "online_retail": {
        "order": _c(
            ("lines (MANIFEST)", 541909),
            ("lines without CustomerID (MANIFEST)", -135080),
            ("cancellation lines (MANIFEST)", -9288),
            ("cancellation lines without CustomerID, already removed above (measured)", 383),
            ("sale lines with a customer: exact duplicates (measured)", -5192),
            ("sale lines with a customer: same key, other Description (measured)", -2),
        ),
        "refund": _c(
            ("cancellation lines (MANIFEST)", 9288),
            ("of them without CustomerID (measured)", -383),
            ("of them exact duplicates (measured)", -33),
        ),
        "quarantined": _c(("lines without CustomerID (MANIFEST)", 135080)),
        "duplicates": _c(
            ("exact duplicate lines with a customer (measured)", 5192 + 33),
            ("same key, other Description (measured)", 2),
        ),
    },
}

# KuaiRand's duplicates: every repeat removed from a kind above is a skipped duplicate event, except
# the view conflicts, which are quarantined instead.
EXPECTED["kuairand"]["duplicates"] = _c(
    *[
        (f"{kind}: repeats removed above", -sum(n for _, n in c.terms if n < 0))
        for kind, c in EXPECTED["kuairand"].items()
        if kind != "quarantined" and any(n < 0 for _, n in c.terms)
    ],
    ("view repeats that are conflicts, quarantined instead (measured)", -4),
)

#: Keys of :data:`EXPECTED` that are not event kinds.
NOT_KINDS = ("quarantined", "duplicates")


def render(dataset: str) -> str:
    """The markdown table of expected counts for ``dataset``, with each derivation."""
    lines = ["| kind | expected | derivation |", "|---|---:|---|"]
    for kind, c in EXPECTED[dataset].items():
        signs = ["" if i == 0 and n >= 0 else ("− " if n < 0 else "+ ") for i, (_, n) in enumerate(c.terms)]
        deriv = " ".join(f"{s}{abs(n):,} ({label})" for s, (label, n) in zip(signs, c.terms, strict=True))
        lines.append(f"| {kind} | {c.value:,} | {deriv} |")
    return "\n".join(lines)


_BLOCK = re.compile(r"(<!-- expected:(\w+) -->)(.*?)(<!-- /expected -->)", re.S)


def update_doc(path: str | Path) -> bool:
    """Rewrite the ``<!-- expected:NAME -->`` blocks of ``path`` from :data:`EXPECTED`; True if changed."""
    p = Path(path)
    text = p.read_text()
    new = _BLOCK.sub(lambda m: m.group(1) + "\n" + render(m.group(2)) + "\n" + m.group(4), text)
    if new != text:
        p.write_text(new)
    return new != text


def doc_counts(path: str | Path) -> dict[str, dict[str, int]]:
    """The counts a doc shows in its expected blocks (what the test compares with :data:`EXPECTED`)."""
    out: dict[str, dict[str, int]] = {}
    for m in _BLOCK.finditer(Path(path).read_text()):
        rows = [r for r in m.group(3).splitlines() if r.startswith("| ")][1:]  # [0] is the header
        out[m.group(2)] = {r.split("|")[1].strip(): int(r.split("|")[2].strip().replace(",", "")) for r in rows}
    return out


if __name__ == "__main__":  # pragma: no cover - a maintenance command
    changed = update_doc(sys.argv[1] if len(sys.argv) > 1 else "docs/datasets.md")
    print("updated" if changed else "up to date")
