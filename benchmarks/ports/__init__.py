"""Hand-written ports of kvmverify models to other model checkers' languages (Promela for SPIN), used by the
benchmarks and by tests/test_ports.py, which compares their state counts with kvmverify's."""
