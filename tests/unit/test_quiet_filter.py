"""A quiet terminal, in process: the filter that drops the joblib launcher's restated settings and
keeps its workers, jobs and launch lines. A real run's terminal: tests/cli/test_quiet.py."""

from __future__ import annotations


def test_hydra_chatter_filter():
    """The joblib launcher's restated settings go, its workers and jobs stay; so do its launch
    and job lines."""
    import logging

    from fcnn_cli.hydra_app.quiet import DropHydraNoise

    def record(msg: str) -> logging.LogRecord:
        return logging.LogRecord("hydra_plugins.hydra_joblib_launcher", logging.INFO, "", 0, msg,
                                 None, None)

    keep = DropHydraNoise().filter
    joblib = record("Joblib.Parallel(n_jobs=2,backend=loky,prefer=processes,require=None,verbose=0,"
                    "timeout=None,pre_dispatch=2*n_jobs,batch_size=auto,temp_folder=None,"
                    "max_nbytes=None,mmap_mode=r) is launching 8 jobs")
    assert keep(joblib) and joblib.getMessage() == "Joblib.Parallel(n_jobs=2) is launching 8 jobs"
    assert not keep(record("Storage: None"))
    assert keep(record("Launching jobs, sweep output dir : outputs/multirun/x"))
    assert keep(record("\t#0 : lr=0.1"))
