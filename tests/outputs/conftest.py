"""Fixtures for the output tests: a relay board on a real pty, and what the event log would record."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.helpers.relay import HealthLog, RelayBoard


@pytest.fixture()
def board() -> Iterator[RelayBoard]:
    relay_board = RelayBoard()
    yield relay_board
    relay_board.close()


@pytest.fixture()
def events() -> HealthLog:
    return HealthLog()
