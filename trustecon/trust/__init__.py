"""Trust models (DESIGN.md §5): evidence → pair trust, creator credibility, seller reliability."""
