"""The compiled explicit engine: the transition system as C (values.py and packing.py decide how each field of a
state is stored, cexpr.py and cgen.py write the C), compiled by the system's compiler and cached (build.py), run
as a child process whose report the Python interpreter replays (driver.py). The search itself is
runtime/kv_search.c: level-synchronous breadth-first search on all cores with canonical state numbering."""
from .build import BuildError, NoCompiler, find_compiler
from .driver import CheckerCrash, program, run_compiled
from .values import Unsupported

__all__ = ["BuildError", "CheckerCrash", "NoCompiler", "Unsupported", "find_compiler", "program", "run_compiled"]
