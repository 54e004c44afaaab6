"""Shared pytest fixtures.

The demo models are expensive (a few seconds of training each), so they are generated and
trained once per session, under one session folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from audit.app.run import run_audit
from audit.config import parse_config
from audit.demo import DemoPaths, ensure_demo

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["circle", "square", "triangle"]


def demo_config(demo, tmp_path, **overrides) -> dict:
    data = {
        "run_name": "test",
        "seed": 0,
        "pipeline": str(ROOT / "pipelines" / "audit.yaml"),
        "model": {"path": str(demo.model_path), "class_names": CLASSES},
        "dataset": {"path": str(demo.audit_manifest)},
        "cams": {"batch_size": 16, "scorecam_max_channels": 8},
        "metrics": {"pointing_tolerance_px": 4, "bootstrap_resamples": 200},
        "report": {"out_dir": str(tmp_path / "reports"), "gallery_size": 3},
        # The demo's backgrounds are plain colours: gray, not the image's mean colour, removes
        # them (see README, "Can these maps be trusted?"); small evidence subsets for speed.
        "behaviour": {"fill": "gray"},
        "faithfulness": {"max_samples": 24, "steps": 8, "substrate": "zero"},
        "sanity": {"samples": 8, "steps": 3},
    }
    for key, value in overrides.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return data


@pytest.fixture(scope="session")
def demo_data_dir(tmp_path_factory) -> Path:
    """The session's folder for demo datasets and models."""
    return tmp_path_factory.mktemp("demo")


@pytest.fixture(scope="session")
def demo_small_biased(demo_data_dir) -> DemoPaths:
    """The small demo: a model trained with background correlation 0.95 (learns the background)."""
    return ensure_demo(demo_data_dir, size="small", seed=0, quiet=True)


@pytest.fixture(scope="session")
def demo_small_unbiased(demo_data_dir) -> DemoPaths:
    """The same shapes with background correlation 0.0: a model that must use the shape."""
    return ensure_demo(demo_data_dir, size="small", seed=0, quiet=True, background_correlation=0.0)


@pytest.fixture(scope="session")
def biased_run(demo_small_biased, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("biased_run")
    config = parse_config(demo_config(demo_small_biased, tmp), base_dir=tmp)
    return run_audit(config, out_dir=tmp / "run", quiet=True)


@pytest.fixture(scope="session")
def unbiased_run(demo_small_unbiased, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("unbiased_run")
    config = parse_config(demo_config(demo_small_unbiased, tmp), base_dir=tmp)
    return run_audit(config, out_dir=tmp / "run", quiet=True)


# --- Real browser -----------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
INSTALL = "apt-get update && apt-get install -y chromium chromium-driver"


def _missing_browser() -> list[str]:
    return [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]


@pytest.fixture(scope="session")
def chromium_installed():
    """Debian's Chromium and ChromeDriver. On a fresh machine where the tests run as root with
    apt-get (as the README's test command does), they are installed once; elsewhere a missing
    browser fails the browser tests with the command to run, it never skips them."""
    if _missing_browser() and shutil.which("apt-get") and os.geteuid() == 0:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"],
                       env=env, check=False, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    missing = _missing_browser()
    if missing:
        pytest.fail(f"browser tests need {' and '.join(missing)}; install them with: {INSTALL}",
                    pytrace=False)


@pytest.fixture
def browser(tmp_path, chromium_installed):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("browser tests need selenium: pip install 'selenium>=4.20'", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--window-size=1200,900", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


#: A4's text width in CSS pixels (210 mm less 2 x 12 mm margins, at 96 px per inch).
A4_TEXT_WIDTH = 703


def overflow(browser, page: Path, *, width: int, print_media: bool = False) -> dict:
    """Open ``page`` in a window ``width`` px wide (as printed, with ``print_media``) and
    measure ``document.documentElement.scrollWidth`` against ``window.innerWidth``, with the
    elements whose right edge passes it."""
    browser.set_window_size(width, 900)
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia",
                            {"media": "print" if print_media else ""})
    browser.get(page.resolve().as_uri())
    return browser.execute_script("""
        const width = window.innerWidth;
        return {scroll: document.documentElement.scrollWidth, inner: width,
                print: matchMedia('print').matches,
                wide: Array.from(document.querySelectorAll('body *'))
                  .filter(e => e.getBoundingClientRect().right > width + 1).slice(0, 5)
                  .map(e => e.tagName + '.' + e.className + ': '
                            + (e.innerText || '').slice(0, 40))};""")


def assert_fits(browser, page: Path) -> None:
    """``page`` fits a 1,280 px window and A4 without horizontal overflow: wide tables scroll
    inside their own box on screen and wrap in print."""
    for width, print_media in ((1280, False), (A4_TEXT_WIDTH, True)):
        found = overflow(browser, page, width=width, print_media=print_media)
        assert found["print"] is print_media
        assert found["scroll"] <= found["inner"], (page.name, width, found)
