"""Print pip constraints pinning every dependency of setup.cfg to its declared minimum.

``make test-minimums`` installs krait with these constraints, so the oldest versions
``install_requires`` admits are the ones the tests run against: a ``>=`` bound that is too
low fails there, not on a user's machine. Standard library only: it runs before any virtual
environment exists.

Usage: python .ci/minimum_pins.py [setup.cfg] > constraints.txt
       python .ci/minimum_pins.py --check [setup.cfg]   (in the environment: are they installed?)
"""

from __future__ import annotations

import configparser
import re
import sys
from importlib import metadata

_REQUIREMENT = re.compile(
    r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*>=\s*(?P<version>[0-9][^,;\s]*)"
)


class UnboundedRequirementError(ValueError):
    """A dependency without a ``>=`` minimum: nothing says which version it was tested with."""


def install_requires(setup_cfg_text: str) -> list[str]:
    """The requirement lines of ``[options] install_requires``."""
    parser = configparser.ConfigParser()
    parser.read_string(setup_cfg_text)
    lines = parser.get("options", "install_requires", fallback="").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def minimum_pin(requirement: str) -> str:
    """``twisted[tls]>=26.10`` becomes ``twisted==26.10`` (constraints take no extras).

    Raises:
        UnboundedRequirementError: the requirement has no ``>=`` bound.
    """
    match = _REQUIREMENT.match(requirement)
    if match is None:
        raise UnboundedRequirementError(
            f"{requirement!r} declares no minimum: write it as NAME>=VERSION in setup.cfg"
        )
    return f"{match['name']}=={match['version']}"


def release(version: str) -> tuple[int, ...]:
    """The release numbers of a version, trailing zeros dropped: ``3.1.0`` equals ``3.1``."""
    numbers = [int(part) for part in re.findall(r"\d+", version.split("+")[0])]
    while numbers and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


def check_installed(pins: list[str]) -> list[str]:
    """The pins the running environment does not hold, each with the version it has."""
    wrong = []
    for pin in pins:
        name, wanted = pin.split("==")
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "none"
        print(f"{name:20} {installed:12} minimum {wanted}")
        if release(installed) != release(wanted):
            wrong.append(f"{name} {installed} is installed, not the minimum {wanted}")
    return wrong


def main(argv: list[str]) -> int:
    args = argv[1:]
    check = "--check" in args
    paths = [arg for arg in args if arg != "--check"]
    path = paths[0] if paths else "setup.cfg"
    with open(path, encoding="utf-8") as file:
        requirements = install_requires(file.read())
    try:
        pins = [minimum_pin(requirement) for requirement in requirements]
    except UnboundedRequirementError as error:
        sys.stderr.write(f"{path}: {error}\n")
        return 1
    if not check:
        sys.stdout.write("".join(f"{pin}\n" for pin in pins))
        return 0
    wrong = check_installed(pins)
    sys.stderr.write("".join(f"{line}\n" for line in wrong))
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
