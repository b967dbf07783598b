"""Shared test set-up. ``import locust`` first: gevent monkey-patching must precede boto3 and urllib3."""

import os
from collections.abc import Iterator
from pathlib import Path

import locust  # noqa: F401  (must stay the first import)
import pytest

from bench.emulator.process import EmulatorProcess, start_emulator

ROOT = Path(__file__).resolve().parent.parent
TEST_EMULATOR_CONFIG = Path(__file__).resolve().parent / "data" / "emulator.toml"

# Never let boto3's credential chain reach the instance metadata service during tests.
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorProcess]:
    """A real emulator process on 127.0.0.1 with the test endpoints of tests/data/emulator.toml."""
    process = start_emulator(TEST_EMULATOR_CONFIG)
    try:
        yield process
    finally:
        process.stop()
