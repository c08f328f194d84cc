"""The guard that keeps tests off the internet works, and loopback stays open."""

import socket

import pytest

from tests.conftest import NetworkBlocked


def test_connection_to_a_public_address_is_refused():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        with pytest.raises(NetworkBlocked):
            s.connect(("93.184.216.34", 80))


def test_resolving_a_public_name_is_refused():
    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("api.twitter.com", 443)


def test_loopback_is_allowed():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    with server, socket.create_connection(server.getsockname(), timeout=2):
        pass
