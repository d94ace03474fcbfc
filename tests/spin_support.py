"""SPIN for the differential tests: .ci/run installs Debian's spin and tcc; where they are missing here, as root
(a CI container), this installs them, unless KVMVERIFY_INSTALL_SPIN=0; otherwise the tests skip, saying why."""
import os
import shutil
import subprocess

import pytest

from kvmverify.difftest import spin


def need_spin() -> None:
    if spin.available():
        return
    if os.environ.get("KVMVERIFY_INSTALL_SPIN", "1") != "0" and hasattr(os, "geteuid") and os.geteuid() == 0 \
            and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=300", "update"], env=env, capture_output=True,
                       timeout=900)
        subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "spin", "tcc"], env=env,
                       capture_output=True, timeout=900)
    if not spin.available():
        pytest.skip("SPIN is not installed (apt-get install spin tcc; .ci/run does it)")
