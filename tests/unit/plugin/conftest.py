"""Fixtures of the in-process plugin tests: a real Locust ``LocalRunner`` with the harness's parts on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from plugin_support import LocalFactory


@pytest.fixture
def local() -> Iterator[LocalFactory]:
    """Makes local processes (``local(options, user_classes)``); quits their runners afterwards."""
    factory = LocalFactory()
    yield factory
    for made in factory.made:
        made.close()
