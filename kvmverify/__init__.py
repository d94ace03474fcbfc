"""kvmverify: a model checker for KVM paravirtual ABI protocols."""

__version__ = "0.1.0"
