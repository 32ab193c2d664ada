"""Makes the runner package importable the way its image does (PYTHONPATH=runner-image)."""

import sys
from pathlib import Path

RUNNER_IMAGE = str(Path(__file__).resolve().parents[2] / "runner-image")
if RUNNER_IMAGE not in sys.path:
    sys.path.insert(0, RUNNER_IMAGE)
