"""Assemble docs/evaluation.md from the per-topic write-ups in docs/evaluation/*.md.

Each topic's script writes its own file (so parallel evaluations never edit one file); this joins
them in a fixed order under one index. Run: python scripts/assemble_evaluation.py
"""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
ORDER = ["simulator", "kpis", "trust", "distribution", "marketing", "market"]
HEADER = """# Evaluation

Every model is evaluated on the simulator's ground truth and on the real datasets in `../shared/data`.
Each section gives the protocol (split, negatives, seeds, baselines computed in the same run), the
numbers, and the command that produced them. Targets not reached are reported as measured.
Sections are assembled from `docs/evaluation/*.md` by `python scripts/assemble_evaluation.py`.
"""


def main() -> None:
    parts = sorted(
        (DOCS / "evaluation").glob("*.md"), key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER else 99, p.stem)
    )
    index = "\n".join(f"- [{p.stem}](evaluation/{p.name})" for p in parts)
    assets = [a.name for a in (DOCS / "evaluation").iterdir() if a.suffix != ".md"]
    texts = []
    for p in parts:
        text = p.read_text().strip()
        for a in assets:  # links relative to docs/evaluation/ must work from docs/ too
            text = text.replace(f"]({a})", f"](evaluation/{a})")
        texts.append(text)
    body = "\n\n".join(texts)
    (DOCS / "evaluation.md").write_text(f"{HEADER}\nContents:\n\n{index}\n\n---\n\n{body}\n")


if __name__ == "__main__":
    main()
