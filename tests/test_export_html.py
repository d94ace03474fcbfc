"""HTML traces: self-contained, a lane per actor, changes highlighted, the property's source (whole), the values
that make an invariant false, a lasso's loop drawn; rendered in headless Chromium with a non-blank screenshot, no
console message at all, and at 800 px nothing clipped on the right.

Chromium is a test-time dependency outside PyPI (Debian package `chromium`): `.ci/run` installs it when it is
missing. The tests themselves never run apt-get or sudo unless asked to (KVMVERIFY_INSTALL_CHROMIUM=1); without
a browser the rendering tests are skipped, with a reason that says how to get one."""
from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import zlib

import pytest

from export_support import BUGGY, REPO, run, write_models

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _find_browser() -> str | None:
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


NO_BROWSER = ("no headless browser: none of " + ", ".join(BROWSERS) + " is on PATH; install Debian's "
              "`chromium` package (apt-get install chromium; .ci/run does), or set KVMVERIFY_INSTALL_CHROMIUM=1 "
              "to let the tests install it")


@pytest.fixture(scope="session")
def chromium() -> str:
    """The browser; installed with Debian's package when missing only if KVMVERIFY_INSTALL_CHROMIUM=1 (opt-in)."""
    found = _find_browser()
    if found:
        return found
    if os.environ.get("KVMVERIFY_INSTALL_CHROMIUM") != "1":
        pytest.skip(NO_BROWSER)
    apt = shutil.which("apt-get")
    if apt is None:
        pytest.skip(NO_BROWSER + " (there is no apt-get here to install it)")
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if prefix and not shutil.which("sudo"):
        pytest.skip(NO_BROWSER + " (installing it needs root, and there is no sudo)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*prefix, apt, "-o", "DPkg::Lock::Timeout=300", "install", "-y", "--no-install-recommends", "chromium"]
    tail = "(no output)"
    for attempt in range(2):
        r = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900)
        tail = ((r.stdout + r.stderr).strip().splitlines() or [tail])[-1]
        if r.returncode == 0 and _find_browser():
            return _find_browser()
        if attempt == 0:  # the package lists may be missing or stale
            subprocess.run([*prefix, apt, "-o", "DPkg::Lock::Timeout=300", "update"], env=env, capture_output=True,
                           text=True, timeout=600)
    pytest.skip(f"Chromium could not be installed with apt-get: {tail}")


def render(browser: str, html_path: str, png: str, tmp) -> list[str]:
    """Load the page headless, screenshot it; return every console message Chromium logged."""
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           "--disable-extensions", "--disable-background-networking", f"--user-data-dir={tmp}/profile",
           "--window-size=1400,1000", f"--screenshot={png}", "--enable-logging=stderr", "--v=0",
           "file://" + os.path.abspath(html_path)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert os.path.exists(png), r.stderr[-3000:]
    return [line for line in r.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def png_info(path: str) -> tuple[int, int, int]:
    """(width, height, number of distinct byte values in the image data)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    return width, height, len(set(zlib.decompress(idat)))


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    d = tmp_path_factory.mktemp("html")
    model = write_models(d, buggy=BUGGY)["buggy"]
    code, _, _ = run("check", model, "--trace-format", "html", "--out", str(d / "out"), "-q")
    assert code == 0
    path = d / "out" / "buggy.slot_box.data.html"
    return d, str(path), path.read_text()


def test_the_page_is_self_contained(page):
    _, _, html = page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html and "url(" not in html
    assert "<script src" not in html
    assert "default-src 'none'" in html  # anything external would be refused (and logged: see below)


def test_lanes_changes_and_the_property_source_line(page):
    _, _, html = page
    heads = re.findall(r"<th>([^<]*)</th>", html.split('<table class="seq">')[1].split("</thead>")[0])
    assert heads == ["#", "guest", "host", "shared memory &amp; registers", "other changes"]
    assert 'id="property-source"' in html and "slot box.data : empty 0, filled by host, emptied by guest" in html
    assert "host wrote box.data while it held an event guest had not consumed (held=1, wrote=2)" in html
    assert "box.data = <mark>2</mark>" in html  # the shared lane highlights the new value
    assert "sent[2]: false → <mark>true</mark>" in html
    assert html.count('class="chg"') >= 6  # the state table highlights every change
    assert ">post(<wbr>x=2)<" in html and "violates slot:box.data" in html


def test_chromium_renders_it_without_console_messages(page, chromium, tmp_path):
    _, path, _ = page
    png = str(tmp_path / "shot.png")
    messages = render(chromium, path, png, tmp_path)
    assert messages == []
    width, height, distinct = png_info(png)
    assert (width, height) == (1400, 1000)
    assert distinct > 20  # not a blank page: text, boxes, highlights


def test_the_console_check_would_see_an_error(chromium, tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><p>x</p><script>console.error('boom'); nosuchfunction();</script>")
    messages = render(chromium, str(bad), str(tmp_path / "bad.png"), tmp_path)
    assert any("boom" in m for m in messages) and any("Uncaught ReferenceError" in m for m in messages)


def test_without_a_browser_the_rendering_tests_skip_and_say_why(tmp_path):
    """No browser on PATH: skipped with a reason naming the package, never silently, and without trying to install
    anything (installing is opt-in); opted in but with no apt-get: skipped, saying so."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "KVMVERIFY_INSTALL_CHROMIUM"}
    fake = tmp_path / "bin"
    fake.mkdir()
    for tool in ("apt-get", "sudo"):  # would leave a trace if the set-up ran them
        (fake / tool).write_text(f"#!/bin/sh\necho ran >> {tmp_path}/{tool}.log\nexit 1\n")
        (fake / tool).chmod(0o755)
    env["PATH"] = str(fake)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p)
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs",
                        "tests/test_export_html.py", "-k", "chromium_renders or console_check"],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-2000:]
    assert "2 skipped" in r.stdout and "KVMVERIFY_INSTALL_CHROMIUM=1" in r.stdout
    assert not (tmp_path / "apt-get.log").exists() and not (tmp_path / "sudo.log").exists()
    env["PATH"] = str(tmp_path)  # an empty directory: no chromium, no apt-get
    env["PYTHONPATH"] = os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p)
    env["KVMVERIFY_INSTALL_CHROMIUM"] = "1"
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs",
                        "tests/test_export_html.py", "-k", "chromium_renders or console_check"],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-2000:]
    assert "2 skipped" in r.stdout
    assert "no headless browser: none of chromium, chromium-browser" in r.stdout
    assert "apt-get install chromium" in r.stdout
    assert "there is no apt-get here" in r.stdout


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """A multi-line invariant (with a struct), a slot violation and a fair lasso."""
    d = tmp_path_factory.mktemp("pages")
    run("check", "models/apf_int_bugs/host_ignores_token_slot.kv", "tests/corpus/handshake.kv", "-q",
        "--trace-format", "html", "--out", str(d))
    return {f: (d / f) for f in os.listdir(d)}


def test_the_whole_source_the_false_values_and_no_internal_keys(pages):
    html = pages["host_ignores_token_slot.waiter_has_completion.html"].read_text()
    source = re.search(r'<div class="src mono" id="property-source">(.*?)</div>', html, re.S).group(1)
    assert [line.split(" | ")[0] for line in source.splitlines()] == ["207", "208", "209"]  # all of it
    assert "|| !apf_on(v))" in source
    false_here = ("waiter_has_completion is false here: waiting[0] = {1}, life[0][1] = Free, wakeall_queued[0] = "
                  "false, area[0].token = 2, en[0].enabled = 1, en[0].delivery_int = 1")
    assert html.count(false_here) == 2  # under the source, and at the last step of the diagram
    for page in pages.values():
        assert "premise_step" not in page.read_text()


def test_the_lasso_loop_is_drawn(pages):
    html = pages["handshake.served1.html"].read_text()
    rows = re.findall(r'<tr data-step="(\d+)"( class="[^"]*")?>', html)
    loop = [int(i) for i, cls in rows if "loop" in cls]
    assert loop == [1, 2, 3]  # the bracket: every step that repeats
    closing = html.split('<tr class="loop closing">')[1].split("</tr>")[0]
    assert ">consume(<wbr>c=0)<" in closing and "back to step 1</b>: steps 1..3 repeat forever" in closing
    assert "the premise of served1 holds here; its goal never holds again" in html.split('data-step="1"')[1]


MEASURE = """<script>
addEventListener("load", function () {
  var seq = document.getElementById("sequence"), doc = document.documentElement;
  var cells = Array.prototype.slice.call(document.querySelectorAll("table.seq td.changes"));
  var right = Math.max.apply(null, cells.map(function (c) { return c.getBoundingClientRect().right; }));
  var out = document.createElement("pre"); out.id = "measure";
  out.textContent = [seq.scrollWidth, seq.clientWidth, doc.scrollWidth, innerWidth, Math.ceil(right)].join(" ");
  document.body.appendChild(out);
});
</script>"""


@pytest.mark.parametrize("name", ["host_ignores_token_slot.waiter_has_completion.html",
                                  "host_ignores_token_slot.slot_area.token.html", "handshake.served1.html"])
def test_at_800_px_nothing_is_clipped_on_the_right(pages, chromium, tmp_path, name):
    page = tmp_path / name
    page.write_text(pages[name].read_text().replace("</body>", MEASURE + "</body>"))
    r = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        f"--user-data-dir={tmp_path}/profile", "--window-size=800,1000", "--dump-dom",
                        "file://" + str(page)], capture_output=True, text=True, timeout=120)
    m = re.search(r'<pre id="measure">([\d ]+)</pre>', r.stdout)
    assert m, r.stderr[-2000:]
    seq_scroll, seq_client, doc_scroll, width, right = map(int, m.group(1).split())
    assert seq_scroll <= seq_client, "the sequence diagram scrolls sideways"
    assert right <= width, "the changes column ends past the window"
    png = str(tmp_path / "shot.png")
    render(chromium, str(page), png, tmp_path)
    assert png_info(png)[2] > 20
