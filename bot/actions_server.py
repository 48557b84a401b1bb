"""Start rasa_sdk's action server: ``python -m actions_server``, run from ``bot/`` (Procfiles).

The same as ``python -m rasa_sdk``, with a longer startup deadline. Sanic (25) stops the
whole server when its worker has not reported ready within 30 s, a class constant. The worker
imports the actions and loads the knowledge base's models; when the scale-out profile starts
two Rasa servers, two bridges and this server at once on two cores, that took longer than
30 s and the action server stopped (2026-12-01), so ``make run-scaleout`` failed. The deadline
here matches the launcher's own (``CSA_HEALTH_TIMEOUT``, 300 s by default), which reports a
server that never comes up.
"""

from __future__ import annotations

import os
import runpy

from sanic.worker.manager import WorkerManager
from sanic.worker.process import WorkerProcess

STARTUP_DEADLINE_S = float(os.environ.get("CSA_HEALTH_TIMEOUT", "300"))

# Sanic counts the deadline in polls of 0.1 s.
WorkerManager.THRESHOLD = WorkerProcess.THRESHOLD = int(STARTUP_DEADLINE_S * 10)

if __name__ == "__main__":
    runpy.run_module("rasa_sdk", run_name="__main__", alter_sys=True)
