"""Fixtures of the replica tests: a private primary cluster and a real streaming replica of it (``pg_basebackup``
into a second cluster on another port), loaded once per session; apps reading from the primary only and through
the replica. Tests that stop, pause or lag the replica leave it streaming again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from ops_center.settings import Settings
from tests.conftest import Stack
from tests.replica.support import Province, load_province, replica_settings
from tests.support.replica import StreamingPair, streaming_pair


@pytest.fixture(scope="session")
def pair(stack: Stack) -> Iterator[StreamingPair]:
    with streaming_pair() as made:
        yield made


@pytest.fixture(scope="session")
def province(pair: StreamingPair, settings: Settings) -> Province:
    loaded = load_province(pair.primary_url, settings.data_dir)
    pair.wait_caught_up()
    return loaded


@pytest.fixture
def primary_client(settings: Settings, pair: StreamingPair, province: Province) -> Iterator[TestClient]:
    """The app without replicas, on the pair's primary: the answers to compare with."""
    from api.app import create_app

    with TestClient(create_app(replica_settings(settings, pair, replicas=[]))) as client:
        yield client
