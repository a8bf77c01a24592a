"""The sandbox's HTTP server answers like a production server: no Nagle delay on keep-alive."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import requests

from relay.sandbox import Fediverse


@pytest.fixture
def fed() -> Iterator[Fediverse]:
    with Fediverse(["home"], heartbeat=5) as fediverse:
        yield fediverse


def test_connections_send_without_waiting_for_acks(fed: Fediverse) -> None:
    """Every accepted connection has TCP_NODELAY: a response written as headers, then body, would
    otherwise wait ~40 ms for the client's delayed ACK on each keep-alive request."""
    with requests.Session() as session:
        for _ in range(2):  # the second request reuses the connection
            assert session.get(f"{fed['home'].url}/api/v2/instance", timeout=10).status_code == 200
        connections = list(fed["home"]._server._connections)
        assert connections
        assert all(c.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for c in connections)
