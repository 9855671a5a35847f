"""Every private name of Hydra (and its joblib launcher plugin) that fcnn uses, in one place.

Hydra offers no public way to do these: parse its own command line (to move flags and check
them), reuse the basic sweeper's parsing of `hydra.sweeper.params`, run a joblib job as the
launcher does, or read a failed JobReturn's exception without raising it. `check()` exercises
each against the installed version; tests/unit/test_private_apis.py fails, naming the version,
when an upgrade changes one.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

CHECKED = {"hydra-core": "1.3.8", "hydra-joblib-launcher": "1.2.0"}


def args_parser() -> Any:
    """Hydra's own argparse parser of `fcnn train`'s command line."""
    from hydra._internal.utils import get_args_parser

    return get_args_parser()


def basic_sweeper() -> type:
    """Hydra's grid sweeper, which fcnn's GridSweeper extends (hydra_plugins/fcnn_sweeps)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    return BasicSweeper


def sweeper_params(sweeper: Any) -> list[str]:
    """The overrides `hydra.sweeper.params` adds to a grid sweep (BasicSweeper's own parsing)."""
    return list(sweeper._parse_config())


def joblib_core() -> tuple[Any, Any]:
    """The joblib launcher's (process_joblib_cfg, execute_job): how it sets up joblib and runs
    one job in a worker."""
    from hydra_plugins.hydra_joblib_launcher._core import execute_job, process_joblib_cfg

    return process_joblib_cfg, execute_job


def return_value(job_return: Any) -> Any:
    """A JobReturn's value, or for a failed job its exception, without raising it (the public
    `return_value` raises)."""
    return job_return._return_value


def failed_return(overrides: Any, error: BaseException) -> Any:
    """A FAILED JobReturn carrying `error` (JobReturn takes it only as its private field)."""
    from hydra.core.utils import JobReturn, JobStatus

    return JobReturn(overrides=overrides, status=JobStatus.FAILED, _return_value=error)


def check() -> list[str]:
    """What no longer holds in the installed Hydra: one line each, naming the version."""
    problems = []
    found = {name: version(name) for name in CHECKED}

    def problem(what: str) -> None:
        problems.append(f"{what} (installed: {', '.join(f'{k} {v}' for k, v in found.items())}; "
                        f"checked with {', '.join(f'{k} {v}' for k, v in CHECKED.items())})")

    try:
        parser = args_parser()
        if not parser.parse_args(["-m", "lr=1"]).multirun:
            problem("hydra._internal.utils.get_args_parser no longer parses -m as multirun")
    except Exception as err:  # noqa: BLE001 - any change is reported
        problem(f"hydra._internal.utils.get_args_parser: {err!r}")
    try:
        if not hasattr(basic_sweeper(), "_parse_config"):
            problem("BasicSweeper has no _parse_config")
    except Exception as err:  # noqa: BLE001
        problem(f"hydra._internal.core_plugins.basic_sweeper: {err!r}")
    try:
        joblib_core()
    except Exception as err:  # noqa: BLE001
        problem(f"hydra_plugins.hydra_joblib_launcher._core: {err!r}")
    try:
        ret = failed_return([], ValueError("x"))
        if not isinstance(return_value(ret), ValueError):
            problem("JobReturn._return_value no longer holds a failed job's exception")
    except Exception as err:  # noqa: BLE001
        problem(f"JobReturn._return_value: {err!r}")
    return problems
