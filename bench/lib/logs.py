"""What a server left in its log: error lines, warnings, worker restarts, a few samples."""

from __future__ import annotations

import re
from typing import Any

_PROBLEM = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback|WORKER TIMEOUT")
_WARNING = re.compile(r"\bWARNING\b")
_BOOT = re.compile(r"Booting worker")


def scan_log(text: str) -> dict[str, Any]:
    """Count what a phase left in the server log: errors, warnings (Django logs every 4xx), worker restarts."""
    lines = text.splitlines()
    problems = [line for line in lines if _PROBLEM.search(line)]
    warnings = [line for line in lines if _WARNING.search(line)]
    samples = list(dict.fromkeys(re.sub(r"^\S+ \S+ ", "", line)[:200] for line in problems + warnings))[:5]
    return {
        "lines": len(lines),
        "errors": len(problems),
        "warnings": len(warnings),
        "worker_boots": sum(1 for line in lines if _BOOT.search(line)),
        "samples": samples,
    }
