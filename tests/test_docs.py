"""The documentation: the docstring examples run, and the built site renders in a browser."""

from __future__ import annotations

import doctest
import html
import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "docs" / "_build" / "html"
#: The strict build command of the README and .ci/run (after the docs extra is installed).
BUILD = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-b", "html", "docs", "docs/_build/html"]

MODULES = [
    "credo.distributions", "credo.data", "credo.errors", "credo.model.core", "credo.model.compile",
    "credo.model.coords", "credo.model.describe", "credo.model.diagram", "credo.model.graph",
    "credo.model.support", "credo.model.programs", "credo.model.spec", "credo.model.define", "credo.plots",
    "credo.model.placement", "credo.distributed",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    if name == "credo.model.diagram":
        pytest.importorskip("graphviz")
    if name == "credo.plots":
        import matplotlib

        matplotlib.use("Agg")
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
    assert result.attempted > 0


def chromium() -> str | None:
    """Debian's headless-capable Chromium, if installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def built_site() -> Path:
    """The site built by ``.ci/run`` (or the README's docs command); built here if there is none."""
    if not (SITE / "index.html").exists():
        result = subprocess.run(BUILD, cwd=ROOT, capture_output=True, text=True, timeout=1800)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return SITE


def browse(page: Path, screenshot: Path, profile: Path) -> str:
    """Open ``page`` in headless Chromium (a fresh profile folder): write a screenshot, return the rendered DOM."""
    # The flags of a closed network: no background connections, no sandbox as root, a fresh profile.
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", f"--user-data-dir={profile}"]
    url = page.as_uri()
    browser = chromium()
    shot = subprocess.run([browser, *flags, "--window-size=1280,1600", f"--screenshot={screenshot}", url],
                          capture_output=True, text=True, timeout=120)
    assert shot.returncode == 0 and screenshot.exists(), shot.stderr[-2000:]
    dom = subprocess.run([browser, *flags, "--virtual-time-budget=5000", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    return dom.stdout


def visible_text(dom: str) -> str:
    without_code = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", without_code))


@pytest.mark.slow
@pytest.mark.parametrize("page, title", [("index.html", "credo"),
                                         ("gallery/uncertainty_maps.html", "Uncertainty maps")])
def test_built_site_renders_in_headless_chromium(page, title, tmp_path):
    pytest.importorskip("sphinx", reason="the docs extra is not installed (pip install '.[docs]')")
    pytest.importorskip("myst_nb", reason="the docs extra is not installed (pip install '.[docs]')")
    if chromium() is None:
        pytest.skip("no Chromium to render the site with (Debian: apt-get install chromium)")
    site = built_site()
    screenshot = Path(os.environ.get("CREDO_DOCS_SHOTS", tmp_path)) / f"{page.replace('/', '_')}.png"
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    dom = browse(site / page, screenshot, tmp_path / "profile")

    page_title = re.search(r"<title>(.*?)</title>", dom, re.S)
    assert page_title and title in html.unescape(page_title.group(1)), page_title
    assert re.search(rf"<h1[^>]*>\s*{re.escape(title)}", dom), f"no heading {title!r} on {page}"
    # A figure drawn at build time, present on disk: an <img> of a PNG the build wrote.
    images = re.findall(r'<img[^>]+src="([^"]+\.png)"', dom)
    assert images, f"no figure on {page}"
    assert all((site / page).parent.joinpath(src).resolve().is_file() for src in images), images
    # No error text: no traceback or exception from an executed cell, no Sphinx error marker.
    text = visible_text(dom)
    for pattern in (r"Traceback", r"\b[A-Z]\w*Error\b", r"\bException\b", r"system-message"):
        assert not re.search(pattern, text + " ".join(re.findall(r'class="([^"]+)"', dom))), pattern
    # The screenshot shows a page, not a blank window.
    import matplotlib.image

    pixels = matplotlib.image.imread(screenshot)
    assert pixels.shape[0] >= 1000 and pixels.shape[1] == 1280
    assert pixels[..., :3].std() > 0.05
