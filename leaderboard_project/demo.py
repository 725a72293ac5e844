"""The last step of ``make demo``: serve the embedded demo with daphne on the first free port from ``--port``.

Another server (an earlier ``make demo``, or ``make serve``) may hold the
port already: the demo then serves on the next free one and says so, rather
than failing after everything else was set up.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

HOST = "127.0.0.1"
TRIES = 20


def free_port(host: str, first: int, tries: int = TRIES) -> int:
    """The first port from ``first`` that nothing listens on (the check binds it, as the server will)."""
    for port in range(first, first + tries):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
    raise SystemExit(
        f"Ports {first} to {first + tries - 1} on {host} are all taken: set PORT=... (make demo PORT=9000)"
    )


def banner(port: int, asked: int) -> str:
    base = f"http://{HOST}:{port}"
    lines = [""]
    if port != asked:
        lines.append(f"  Port {asked} is taken (another server runs there); this demo uses {port}.")
    lines += [
        f"  Podium is starting on {base}/",
        f"    site      {base}/",
        f"    admin     {base}/admin/",
        f"    API docs  {base}/api/docs/",
        "  Ctrl-C stops it.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    asked = parser.parse_args(argv).port
    port = free_port(HOST, asked)
    print(banner(port, asked), flush=True)
    daphne = os.path.join(os.path.dirname(sys.executable), "daphne")
    os.execv(daphne, [daphne, "-b", HOST, "-p", str(port), "leaderboard_project.asgi:application"])


if __name__ == "__main__":
    main()
