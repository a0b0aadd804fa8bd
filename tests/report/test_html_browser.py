"""The report in a real browser: headless Chromium (Debian's ``chromium`` package) renders the page offline,
with its figures and without console errors. Skips where Chromium is not installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from _report_runs import bench_run, search_run, train_run

from parsecnas.report.html import write_report

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
                None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt install chromium)")
OFFLINE = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run([str(CHROMIUM), *OFFLINE, f"--user-data-dir={profile}", *args], capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    pytest.importorskip("matplotlib")
    root = tmp_path_factory.mktemp("runs")
    runs = [search_run(root / "parsec"), train_run(root / "train"), bench_run(root / "bench")]
    return write_report(runs, root / "report.html")


def test_the_page_renders_with_its_figures_and_no_console_errors(page, tmp_path) -> None:
    done = chromium(tmp_path, "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    images = re.findall(r"<img [^>]*src=\"data:image/png;base64,", done.stdout)
    assert len(images) == page.read_text().count("<img ") >= 8  # every embedded figure made it into the DOM
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, "\n".join(console)


def test_a_screenshot_of_the_page_is_not_blank(page, tmp_path) -> None:
    from PIL import Image, ImageStat

    shot = tmp_path / "report.png"
    done = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri())
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.size == (1280, 2000)
        gray = image.convert("L")
        assert ImageStat.Stat(gray).stddev[0] > 10  # text and figures, not a blank page
        assert len(gray.getcolors(maxcolors=256 * 256) or range(1000)) > 50
