"""Celery in the embedded mode: no broker configured, tasks run eagerly, and nothing is logged about a broker."""

import json
import os
import subprocess
import sys

from django.conf import settings

# A task sent with .delay() in a fresh interpreter with no environment, as `manage.py populate_demo` sends
# them; every warning logged or raised on the way is printed.
PROBE = """
import json, logging, warnings
import django

django.setup()
from leaderboard_project.celery import app

logged = []


class Keep(logging.Handler):
    def emit(self, record):
        logged.append(f"{record.levelname} {record.name} {record.getMessage()}")


logging.getLogger().addHandler(Keep(logging.WARNING))


@app.task(name="probe.add")
def add(a, b):
    return a + b


with warnings.catch_warnings(record=True) as raised:
    warnings.simplefilter("always")
    result = add.delay(2, 3).get()
print(json.dumps({"result": result, "logged": logged, "warnings": [str(w.message) for w in raised]}))
"""


def test_an_eager_task_logs_no_warning_about_the_broker():
    env = {"PATH": os.environ.get("PATH", ""), "DJANGO_SETTINGS_MODULE": "leaderboard_project.settings"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    assert probe == {"result": 5, "logged": [], "warnings": []}, result.stderr
