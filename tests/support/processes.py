"""What the tests ask of a process they did not start themselves (an agent, a runner)."""
from __future__ import annotations

from pathlib import Path


def alive(pid: int) -> bool:
    """Running: a zombie has exited, only its parent has not collected it yet."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
