"""make demo's last step: it serves on the next free port when another server holds the one asked for."""

import socket

import pytest

from leaderboard_project.demo import HOST, banner, free_port


@pytest.fixture
def taken_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind((HOST, 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_a_free_port_is_used_as_asked():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]

    assert free_port(HOST, port) == port


def test_a_taken_port_moves_the_demo_to_the_next_free_one_and_says_so(taken_port):
    port = free_port(HOST, taken_port)

    assert port > taken_port
    assert f"Port {taken_port} is taken" in banner(port, taken_port)
    assert f"http://{HOST}:{port}/admin/" in banner(port, taken_port)


def test_when_every_port_is_taken_it_says_how_to_choose_one(taken_port):
    with pytest.raises(SystemExit, match="PORT=9000"):
        free_port(HOST, taken_port, tries=1)
