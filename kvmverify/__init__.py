"""kvmverify: a model checker for KVM paravirtual ABI protocols."""

__version__ = "0.1.0"

import sys as _sys

# A model's widest value is a 4096-byte struct (32768 bits, 9865 decimal digits); z3 hands models back as decimal
# strings and ITF writes big integers in decimal, both above CPython's default limit of 4300 digits. The limit
# stays finite: a trace file with a longer number is still refused (with a diagnostic) when it is read.
MAX_INT_DIGITS = 20_000
if hasattr(_sys, "set_int_max_str_digits") and 0 < _sys.get_int_max_str_digits() < MAX_INT_DIGITS:
    _sys.set_int_max_str_digits(MAX_INT_DIGITS)
