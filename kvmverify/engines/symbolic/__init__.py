"""The z3 engines: the encoding of a transition system (`bvterms`, `encode`), bounded model checking (`bmc`,
with fair lassos in `lasso`), k-induction (`induction`), PDR (`pdr`), invariants in model terms (`show`) and the
decision tables' `check`s (`decide`). Importing this package imports z3."""
