"""Fault injection for the sweep tests, loaded (as Python's sitecustomize hook) only by the
subprocesses whose PYTHONPATH names this directory.

FCNN_TEST_FAIL="1:kill,2:raise" makes the sweep job numbered 1 SIGKILL its own process and job 2
raise, when training is about to start: a real signal and a real exception in a real worker.
"""

import os
import signal

_RULES = dict(rule.split(":", 1) for rule in os.environ.get("FCNN_TEST_FAIL", "").split(",") if rule)

if _RULES:
    import fcnn_cli.training.loop as _loop

    _real_run = _loop.run

    def _run(backend, settings, *args, **kwargs):
        from hydra.core.hydra_config import HydraConfig

        what = _RULES.get(str(HydraConfig.get().job.num))
        if what == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif what == "raise":
            raise RuntimeError("injected failure")
        return _real_run(backend, settings, *args, **kwargs)

    _loop.run = _run
