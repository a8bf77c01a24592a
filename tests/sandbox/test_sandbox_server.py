"""The sandbox's HTTP server answers like a production server: no Nagle delay on keep-alive, and a
client that vanishes mid-request is no error."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import pytest
import requests

from relay.sandbox import Fediverse
from relay.sandbox.testing import wait_until


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


def test_a_client_gone_mid_request_prints_no_traceback(
    fed: Fediverse, capsys: pytest.CaptureFixture[str]
) -> None:
    """A client that resets its connection mid-request (a relay killed with SIGKILL) is not an
    error of the server: nothing is printed (the soak kills relays by the dozen)."""
    server = fed["home"]._server
    client = socket.create_connection(("127.0.0.1", fed["home"].port))
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST
    client.sendall(b"GET /api/v2/instance HTTP/1.1\r\n")  # the headers never end
    wait_until(lambda: len(server._connections) == 1)
    client.close()
    wait_until(lambda: not server._connections)  # handled, the error included
    assert "Traceback" not in capsys.readouterr().err
