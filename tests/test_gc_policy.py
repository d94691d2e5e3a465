"""Full garbage collections skip what the loaded site keeps alive, and young ones come less
often (krait._gc_policy)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import twisted.internet
import twisted.logger

import krait.tap
from krait.__main__ import main
from krait._gc_policy import YOUNG_THRESHOLD, collect_young_less_often, freeze_loaded_objects


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    """Give the test process its collector back as it was."""
    assert gc.get_freeze_count() == 0
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_young_collections_come_less_often_and_the_older_generations_keep_theirs() -> None:
    gc.set_threshold(700, 11, 12)
    collect_young_less_often()
    assert gc.get_threshold() == (YOUNG_THRESHOLD, 11, 12)
    gc.set_threshold(YOUNG_THRESHOLD * 2, 11, 12)  # already rarer: left alone
    collect_young_less_often()
    assert gc.get_threshold() == (YOUNG_THRESHOLD * 2, 11, 12)


class Loaded:
    """An object of the start-up."""

    def __init__(self) -> None:
        self.me = self


def test_the_objects_alive_are_left_out_of_later_collections() -> None:
    site_object = Loaded()
    frozen = freeze_loaded_objects()
    assert frozen == gc.get_freeze_count() > 0
    assert not any(tracked is site_object for tracked in gc.get_objects())


def test_the_garbage_of_the_start_up_is_collected_not_frozen() -> None:
    garbage = Loaded()  # a cycle: only the collector frees it
    gone = weakref.ref(garbage)
    del garbage
    freeze_loaded_objects()
    assert gone() is None


def test_the_command_freezes_the_loaded_site_before_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen_when_serving: list[int] = []
    young_when_serving: list[int] = []

    class Service:
        started = False

        def privilegedStartService(self) -> None:
            pass

        def startService(self) -> None:
            self.started = True

        def stopService(self) -> None:
            pass

    class Reactor:
        def addSystemEventTrigger(self, *args: Any) -> None:
            pass

        def run(self) -> None:
            frozen_when_serving.append(gc.get_freeze_count())
            young_when_serving.append(gc.get_threshold()[0])

    service = Service()
    monkeypatch.setattr(twisted.internet, "reactor", Reactor(), raising=False)
    monkeypatch.setattr(krait.tap, "build_service", lambda options, reactor: service)
    monkeypatch.setattr(twisted.logger.globalLogBeginner, "beginLoggingTo", lambda *a, **k: None)
    assert main([str(tmp_path)]) == 0
    assert service.started
    assert frozen_when_serving and frozen_when_serving[0] > 0
    assert young_when_serving == [YOUNG_THRESHOLD]


def test_twistd_krait_freezes_the_loaded_site(monkeypatch: pytest.MonkeyPatch) -> None:
    frozen_when_built: list[int] = []

    def build_service(options: Any, twistd: bool) -> str:
        frozen_when_built.append(gc.get_freeze_count())
        return "the service"

    monkeypatch.setattr(krait.tap, "build_service", build_service)
    assert krait.tap.makeService(krait.tap.Options()) == "the service"
    assert frozen_when_built == [0]
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
