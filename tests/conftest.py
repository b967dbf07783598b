"""Shared test set-up. ``import locust`` first: gevent monkey-patching must precede boto3 and urllib3."""

import os
from collections.abc import Iterator

import locust  # noqa: F401  (must stay the first import)
import pytest
from support import TEST_EMULATOR_CONFIG

from bench.emulator.process import EmulatorProcess, start_emulator

TESTS = os.path.dirname(os.path.abspath(__file__))
# The tier of a test is its directory: tests/<tier>/... gets the marker <tier> (tests/unit/ none).
TIERS = ("integration", "e2e", "conformance")

# Never let boto3's credential chain reach the instance metadata service during tests.
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test with its tier, so that ``-m integration`` (and so on) selects that directory."""
    for item in items:
        tier = os.path.relpath(item.path, TESTS).split(os.sep, 1)[0]
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorProcess]:
    """A real emulator process on 127.0.0.1 with the test endpoints of tests/data/emulator.toml."""
    process = start_emulator(TEST_EMULATOR_CONFIG)
    try:
        yield process
    finally:
        process.stop()
