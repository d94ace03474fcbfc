"""Explicit-state search: the successor function generated from the IR (`codegen`), breadth-first search with
symmetry reduction (`search`), fair lassos (`liveness`) and independent parts (`parts`, `parts_liveness`)."""
from .search import Explorer, explore

__all__ = ["Explorer", "explore"]
