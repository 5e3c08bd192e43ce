"""Assemble docs/evaluation.md from the per-topic write-ups in docs/evaluation/*.md.

Each topic's script writes its own file (so parallel evaluations never edit one file); this joins
them in a fixed order under one index. Run: python scripts/assemble_evaluation.py
"""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
ORDER = ["simulator", "kpis", "trust", "distribution"]
HEADER = """# Evaluation

Every model is evaluated on the simulator's ground truth and on the real datasets in `../shared/data`.
Each section gives the protocol (split, negatives, seeds, baselines computed in the same run), the
numbers, and the command that produced them. Targets not reached are reported as measured.
Sections are assembled from `docs/evaluation/*.md` by `python scripts/assemble_evaluation.py`.
"""


def main() -> None:
    parts = sorted((DOCS / "evaluation").glob("*.md"), key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER else 99, p.stem))
    index = "\n".join(f"- [{p.stem}](evaluation/{p.name})" for p in parts)
    body = "\n\n".join(p.read_text().strip() for p in parts)
    (DOCS / "evaluation.md").write_text(f"{HEADER}\nContents:\n\n{index}\n\n---\n\n{body}\n")


if __name__ == "__main__":
    main()
