"""The dependency minimums: every one is declared, and ``make test-minimums`` pins them."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest
from conftest import REPO

import krait


def load_pins_script() -> ModuleType:
    path = REPO / ".ci" / "minimum_pins.py"
    spec = importlib.util.spec_from_file_location("minimum_pins", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["minimum_pins"] = module
    spec.loader.exec_module(module)
    return module


pins = load_pins_script()
SETUP_CFG = (REPO / "setup.cfg").read_text()


def test_a_lower_bound_becomes_a_pin_without_extras() -> None:
    assert pins.minimum_pin("twisted[tls,http2]>=26.10.0") == "twisted==26.10.0"
    assert pins.minimum_pin("jinja2 >= 3.1.0") == "jinja2==3.1.0"


@pytest.mark.parametrize("requirement", ["jinja2", "jinja2<4", "jinja2==3.1"])
def test_a_requirement_without_a_minimum_is_refused(requirement: str) -> None:
    with pytest.raises(pins.UnboundedRequirementError, match="NAME>=VERSION"):
        pins.minimum_pin(requirement)


def test_every_dependency_of_setup_cfg_declares_a_minimum() -> None:
    requirements = pins.install_requires(SETUP_CFG)
    assert len(requirements) >= 5
    assert all("==" in pins.minimum_pin(requirement) for requirement in requirements)


def test_twisted_is_required_from_the_release_with_the_rapid_reset_limit() -> None:
    """The HTTP/2 hardening relies on Twisted's reset rate limit, new in Twisted 26.10."""
    twisted_pin = next(
        pins.minimum_pin(r) for r in pins.install_requires(SETUP_CFG) if r.startswith("twisted")
    )
    assert pins.release(twisted_pin.split("==")[1]) >= (26, 10)


def test_releases_compare_without_trailing_zeros() -> None:
    assert pins.release("3.1.0") == pins.release("3.1") == (3, 1)
    assert pins.release("26.10.0") > pins.release("26.4.0")


def test_the_distribution_is_krait_server_with_krait_s_version() -> None:
    assert "\nname = krait-server\n" in SETUP_CFG
    assert "\nversion = attr: krait.__version__\n" in SETUP_CFG
    assert pins.release(krait.__version__) >= (0, 2)


def test_the_license_file_is_mit_as_the_metadata_says() -> None:
    assert "\nlicense = MIT\n" in SETUP_CFG
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License\n\nCopyright (c) 2026 the krait authors\n")
