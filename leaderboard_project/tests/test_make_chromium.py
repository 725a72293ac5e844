"""``make chromium``, which ``make test`` runs first: the page tests' browser, or one line saying what to install.

Each case fakes who runs make (``USER_ID``), whether apt-get is there (``APT_GET``, and a stand-in ``apt-get``
first on ``PATH``) and where the browser goes (``CHROMIUM``), so that none of them installs anything.
"""

import os
import subprocess
from pathlib import Path

from realtime.tests.servers import PROJECT

MISSING = "/nonexistent/chromium"

# Records its arguments and DEBIAN_FRONTEND; "install" puts an executable at $FAKE_CHROMIUM, chatting on stderr
# as apt-get does, unless $FAKE_APT_FAILS is set.
FAKE_APT_GET = """#!/bin/sh
echo "$* (DEBIAN_FRONTEND=$DEBIAN_FRONTEND)" >> "$FAKE_APT_CALLS"
if [ -n "$FAKE_APT_FAILS" ]; then echo "E: Unable to locate package chromium" >&2; exit 100; fi
if [ "$1" = install ]; then
  echo "debconf: delaying package configuration, since apt-utils is not installed" >&2
  printf '#!/bin/sh\\n' > "$FAKE_CHROMIUM" && chmod +x "$FAKE_CHROMIUM"
fi
"""


def make_chromium(*, env: dict[str, str] | None = None, **variables: str) -> subprocess.CompletedProcess:
    overrides = [f"{name}={value}" for name, value in variables.items()]
    return subprocess.run(
        ["make", "--no-print-directory", "-s", "chromium", *overrides],
        cwd=PROJECT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def fake_apt_get(tmp_path: Path, **env: str) -> tuple[dict[str, str], dict[str, str]]:
    """The environment and make variables that run the stand-in apt-get as root; it installs ``tmp_path/chromium``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    apt_get = bin_dir / "apt-get"
    apt_get.write_text(FAKE_APT_GET)
    apt_get.chmod(0o755)
    environment = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_APT_CALLS": str(tmp_path / "calls"),
        "FAKE_CHROMIUM": str(tmp_path / "chromium"),
        "DEBIAN_FRONTEND": "",
        **env,
    }
    return environment, {"CHROMIUM": str(tmp_path / "chromium"), "USER_ID": "0", "APT_GET": str(apt_get)}


def test_make_chromium_does_nothing_when_the_browser_is_there():
    result = make_chromium(CHROMIUM="/bin/sh", USER_ID="0")

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_make_chromium_as_root_installs_debians_package_saying_so_in_one_line(tmp_path):
    env, variables = fake_apt_get(tmp_path)

    result = make_chromium(env=env, **variables)

    assert result.returncode == 0, result.stderr
    chromium = variables["CHROMIUM"]
    assert result.stdout == f"{chromium} is missing; installing Debian's chromium package (apt-get install chromium)\n"
    assert result.stderr == ""  # apt-get's chatter is shown only when it fails
    assert (tmp_path / "calls").read_text().splitlines() == [
        "update -qq (DEBIAN_FRONTEND=)",
        "install -y -qq chromium (DEBIAN_FRONTEND=noninteractive)",
    ]


def test_make_chromium_shows_what_apt_get_said_when_the_install_fails(tmp_path):
    env, variables = fake_apt_get(tmp_path, FAKE_APT_FAILS="1")

    result = make_chromium(env=env, **variables)

    assert result.returncode != 0
    assert "E: Unable to locate package chromium" in result.stderr
    assert f"could not install {variables['CHROMIUM']}" in result.stderr


def test_make_chromium_tells_a_user_who_is_not_root_to_install_it_with_sudo():
    result = make_chromium(CHROMIUM=MISSING, USER_ID="1000", APT_GET="/usr/bin/apt-get")

    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.splitlines()[0] == "make test needs Chromium for the page tests: sudo apt-get install chromium"


def test_make_chromium_without_apt_get_says_where_the_browser_must_be():
    result = make_chromium(CHROMIUM=MISSING, USER_ID="0", APT_GET="")

    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.splitlines()[0] == f"make test needs Chromium for the page tests: install it as {MISSING}"
