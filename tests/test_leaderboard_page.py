"""The leaderboard page on any screen (#23.4): viewport meta, tables that scroll sideways inside their box,
numbers and intervals that never wrap, names that do, no local path; rendered in headless Chromium at a desktop
(1400 px) and a phone (390 px) width."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from cogip_tasks.files import write_json
from cogip_tasks.leaderboard.cli import main as leaderboard_main
from cogip_tasks.leaderboard.verify import load_ground_truth
from fixtures.leaderboard import synthetic_submission

CHROMIUM = "/usr/bin/chromium"
NAMES = ["Qwen2.5-VL-7B-Instruct + CogIP soft-label alignment (LoRA 64)", "base", "Gemma 3 27B it", "Llama 3.2 11B"]


@pytest.fixture(scope="module")
def site(sample_dataset_dir, tmp_path_factory) -> Path:
    truth = load_ground_truth(str(sample_dataset_dir))
    folder = tmp_path_factory.mktemp("page_subs")
    for n, name in enumerate(NAMES):
        write_json(folder / f"{n}.json", synthetic_submission(truth, seed=10 + n, name=name))
    out = tmp_path_factory.mktemp("page") / "site"
    with pytest.raises(SystemExit) as stop:
        leaderboard_main(["build", str(folder), "-o", str(out), "--dataset", str(sample_dataset_dir), "--no-cache"])
    assert stop.value.code == 0
    return out


def test_page_markup_for_small_screens(site, sample_dataset_dir):
    page = (site / "index.html").read_text(encoding="utf-8")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert page.count('<div class="scroll"><table>') == 3  # every table scrolls inside its own box
    assert re.search(r"\.scroll\{overflow-x:auto", page) and re.search(r"td\.num\{[^}]*white-space:nowrap", page)
    intervals = re.findall(r'<td class="(\w+)">[^<]*\[-?\d\.\d+, -?\d\.\d+\][^<]*</td>', page)
    assert intervals and set(intervals) == {"num"}  # an interval sits in a cell that never wraps
    assert str(sample_dataset_dir) not in page and str(Path(sample_dataset_dir).parent) not in page  # no local path
    assert "the local folder dataset" in page


def screenshot(page: Path, width: int, out: Path) -> Image.Image:
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--hide-scrollbars", f"--user-data-dir={out.parent / 'profile'}",
        f"--screenshot={out}", f"--window-size={width},1800", page.resolve().as_uri(),
    ]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and out.exists(), proc.stderr[-3000:]
    return Image.open(out).convert("RGB")


@pytest.mark.parametrize("width", [1400, 390])
def test_page_renders_at_desktop_and_phone_width(site, width, tmp_path):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} missing on CI: run scripts/system_deps.sh")
        pytest.skip(f"{CHROMIUM} not installed (Debian package `chromium`; scripts/system_deps.sh installs it)")
    shot = screenshot(site / "index.html", width, tmp_path / f"page-{width}.png")
    assert shot.size == (width, 1800)
    grey = shot.convert("L")
    dark = sum(grey.histogram()[:128]) / (width * 1800)
    assert 0.003 < dark < 0.5, f"screenshot looks blank or broken ({dark:.2%} dark pixels)"
    # Nothing runs off the right edge: the rightmost pixels (inside the body's padding) are page background;
    # a table wider than the screen scrolls inside its box, whose border stays on the screen.
    edge = grey.crop((width - 6, 0, width, 1800))
    assert min(edge.getdata()) > 200, "content runs past the right edge of the screen"
