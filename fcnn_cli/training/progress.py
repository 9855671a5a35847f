"""What `fcnn train` shows on stderr while it works: one transient status line while it sets up
(loading the data, compiling the epoch), then the epoch bar, which replaces it.

The epoch bar gives, besides the curves, the throughput (training samples a second) and the
time: elapsed, counting a resumed run's earlier epochs, and left, from the epochs still to go at
the rate measured so far. When an epoch runs longer than `WITHIN_EPOCH_AFTER_S` seconds, a
second bar follows the batches within it, for the backends that train batch by batch in Python
(numpy, sklearn's MLPs: their `batch_hook`); a JAX epoch is one compiled call and has none.

Nothing is drawn with `progress=false`. The status line and the bars are drawn only on a
terminal. Anywhere else (stderr piped or sent to a file, a Jupyter notebook, `!fcnn train` in a
notebook cell) each epoch is one plain line, with the same numbers and no spinner, bar, cursor
movement or colour, so a log or a saved notebook reads as text; rich's live display is never
started there (in Jupyter it would ask for ipywidgets).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live
    from rich.progress import Progress, Task
    from rich.text import Text

#: An epoch that has run this long shows its batches (seconds).
WITHIN_EPOCH_AFTER_S = 2.0
#: The batch bar is redrawn at most this often (seconds): the hook costs next to nothing.
BATCH_REFRESH_S = 0.1

EPOCHS, BATCHES = "epochs", "batches"
#: A terminal this wide shows the bar in full; a narrower one gets the compact bar (80 columns:
#: the backend's name, a shorter throughput, and the time left without the time elapsed).
WIDE = 120


class Display:
    """stderr while `fcnn train` works: the status line, notes, then the epoch bar.

    `enabled`: the run's `progress`; may be set once the settings are checked."""

    def __init__(self, enabled: bool = False, console: Console | None = None) -> None:
        self.enabled = enabled
        self._console = console
        self._status: Live | None = None

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            # Not a terminal to draw on: rich would take FORCE_COLOR (which a Jupyter kernel sets
            # for its shell commands) for one, even with stderr piped.
            self._console = Console(stderr=True, force_terminal=None if draws_live(sys.stderr)
                                    else False)
        return self._console

    @property
    def live(self) -> bool:
        """Whether transient lines may be drawn: progress is on and stderr is a terminal."""
        return self.enabled and self.console.is_terminal

    def status(self, text: str) -> None:
        """Show `text` as the status line (it replaces the one before)."""
        if not self.live:
            return
        from rich.spinner import Spinner

        spinner = Spinner("dots", text, style="status.spinner")
        if self._status is None:
            from rich.live import Live

            self._status = Live(spinner, console=self.console, transient=True,
                                refresh_per_second=12.5)
            self._status.start(refresh=True)  # drawn at once, not at the next tick
        else:
            self._status.update(spinner, refresh=True)

    def clear(self) -> None:
        """Remove the status line (before the bar, or a message, is printed)."""
        if self._status is not None:
            self._status.stop()
            self._status = None

    def note(self, text: str) -> None:
        """A line that stays, on stderr whether or not progress is shown (a resumed run's)."""
        if self.live:
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            print(text, file=sys.stderr, flush=True)

    def line(self, text: str) -> None:
        """One plain line where no live display is drawn (the console's file, as it is)."""
        file = self.console.file
        file.write(text + "\n")
        file.flush()


def draws_live(stream: Any) -> bool:
    """Whether `stream` is a terminal to draw a live display on: a real terminal, and not the
    pseudo-terminal a notebook runs a shell command in (`!fcnn train ...`: IPython runs it under
    pexpect, and the cell keeps every byte as text). A Jupyter kernel marks itself and the
    processes it starts with JPY_PARENT_PID (jupyter_client) and its inline matplotlib backend
    in MPLBACKEND (ipykernel)."""
    import os

    try:
        if not stream.isatty():
            return False
    except (AttributeError, ValueError):  # no isatty, or a closed file
        return False
    return "JPY_PARENT_PID" not in os.environ and "inline" not in os.environ.get("MPLBACKEND", "")


def quiet_shell_forks() -> None:
    """Drop JAX's warning about os.fork() for the forks a notebook makes to run a shell command.

    Once its backend is up, JAX warns at every os.fork() ("os.fork() was called ... will likely
    lead to a deadlock"). A notebook's `!fcnn ...` or `!ls` forks through the pty module (IPython,
    pexpect) and execs at once: no deadlock, and nothing the user could change. Any other fork
    still warns."""
    import warnings

    warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning,
                            module=r"pty\Z")


def clock_text(seconds: float | None) -> str:
    """m:ss, or h:mm:ss from an hour on; -:-- when unknown."""
    if seconds is None:
        return "-:--"
    minutes, s = divmod(int(max(0.0, seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{s:02d}" if hours else f"{minutes}:{s:02d}"


def rate_text(rate: float | None, compact: bool = False) -> str:
    """'12.3k samples/s' ('12.3k/s' compact)."""
    if rate is None:
        return ""
    unit = "/s" if compact else " samples/s"
    for factor, prefix in ((1e6, "M"), (1e3, "k")):
        if rate >= factor:
            return f"{rate / factor:.1f}{prefix}{unit}"
    return f"{rate:.0f}{unit}"


def _columns(clock: Callable[[], float], compact: bool) -> list[Any]:
    """The bar's columns; `compact` for a terminal under WIDE columns: the time left only."""
    from rich.progress import BarColumn, MofNCompleteColumn, ProgressColumn, TextColumn
    from rich.table import Column
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(rate_text(task.fields.get("rate"), compact), style="progress.data.speed")

    class Clock(ProgressColumn):
        """Elapsed (with a resumed run's earlier epochs) and left, for the epoch bar."""

        max_refresh = 0.5

        def render(self, task: Task) -> Text:
            if task.fields.get("kind") != EPOCHS:
                return Text("")
            now = clock()
            elapsed = task.fields["before"] + now - task.fields["started"]
            per_epoch = task.fields.get("per_epoch")
            left = None
            if per_epoch is not None and task.total is not None:
                left = max(0.0, (task.total - task.completed) * per_epoch
                           - min(per_epoch, now - task.fields["epoch_started"]))
                if task.finished:
                    left = 0.0
            text = (f"ETA {clock_text(left)}" if compact
                    else f"{clock_text(elapsed)} elapsed, {clock_text(left)} left")
            return Text(text, style="progress.remaining")

    def fixed() -> Column:
        return Column(no_wrap=True)

    return [TextColumn("[bold]{task.description}", table_column=fixed()),
            BarColumn(bar_width=None, table_column=Column(ratio=1, min_width=5)),
            MofNCompleteColumn(table_column=fixed()),
            TextColumn("{task.fields[stats]}", table_column=Column(no_wrap=True, overflow="ellipsis")),
            Rate(table_column=fixed()), Clock(table_column=fixed())]


class EpochBar:
    """The epoch bar of one training loop (a context manager); all calls are no-ops when the
    display is off.

    `done`: the epochs done before (a resumed run's); `before`: their training seconds;
    `n_train`, `batch_size`: for the throughput and the batch bar."""

    def __init__(self, display: Display, description: str, total: int, done: int,
                 n_train: int, batch_size: int, stats: str = "", before: float = 0.0,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.display, self.enabled = display, display.enabled
        self.total, self.n_train = total, n_train
        self.batch_size = max(1, min(batch_size, n_train))
        self.n_batches = -(-n_train // self.batch_size)
        self._clock = clock
        self._description = description
        self._done, self._before, self._stats = done, before, stats
        self._progress: Progress | None = None
        self._task: Any = None
        self._batch_task: Any = None
        self._epoch_started = 0.0
        self._last_batch_draw = 0.0
        self._epochs_here = 0
        self._train_seconds = 0.0
        self._started = 0.0
        # A resumed run's first estimate: its earlier epochs' mean training time.
        self._per_epoch_hint = before / done if done and before > 0 else None
        #: no terminal: one plain line per epoch instead of the bar (set on entering)
        self._plain = False

    def __enter__(self) -> EpochBar:
        self._started = self._epoch_started = self._clock()
        if not self.enabled:
            return self
        if not self.display.live:
            self._plain = True
            return self
        from rich.progress import Progress

        self.display.clear()
        console = self.display.console
        compact = console.width < WIDE
        if compact:
            self._description = self._description.split()[0]
        self._progress = Progress(*_columns(self._clock, compact), console=console,
                                  transient=False)
        rate = (self.n_train * self._done / self._before) if self._per_epoch_hint else None
        self._task = self._progress.add_task(
            self._description, total=self.total, completed=self._done, stats=self._stats,
            kind=EPOCHS, before=self._before, started=self._started,
            epoch_started=self._started, per_epoch=self._per_epoch_hint, rate=rate)
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is None:
            return
        if self._batch_task is not None:  # the final picture holds the epoch bar only
            self._progress.remove_task(self._batch_task)
            self._batch_task = None
        self._progress.stop()
        self._progress = None

    @property
    def batch_hook(self) -> Callable[[int], None] | None:
        """What a backend calls with the samples done in the current epoch; None when no batch
        bar can be drawn (no terminal)."""
        return self.batches if self.enabled and self.display.live else None

    def epoch_started(self) -> None:
        now = self._clock()
        self._epoch_started = now
        if self._progress is None:
            return
        self._progress.update(self._task, epoch_started=now)
        if self._batch_task is not None:
            self._progress.reset(self._batch_task, total=self.n_batches, completed=0,
                                 description=self._batch_description(), stats="", kind=BATCHES,
                                 rate=None)

    def epoch_trained(self, seconds: float) -> None:
        """The epoch's training and its scoring on the training set took `seconds` (the
        throughput: a JAX epoch runs asynchronously until its result is read)."""
        self._epochs_here += 1
        self._train_seconds += seconds
        if self._progress is not None and self._train_seconds > 0:
            self._progress.update(self._task,
                                  rate=self.n_train * self._epochs_here / self._train_seconds)

    def epoch_ended(self, stats: str) -> None:
        if self._plain:
            self.display.line(self._plain_line(stats))
            return
        if self._progress is None:
            return
        per_epoch = (self._clock() - self._started) / max(1, self._epochs_here)
        self._progress.update(self._task, advance=1, stats=stats, per_epoch=per_epoch)
        if self._batch_task is not None:
            self._progress.update(self._batch_task, completed=self.n_batches)

    def batches(self, samples: int) -> None:
        """The backend's hook: `samples` of this epoch are done. Draws the batch bar once the
        epoch has run WITHIN_EPOCH_AFTER_S, at most every BATCH_REFRESH_S."""
        now = self._clock()
        if now - self._last_batch_draw < BATCH_REFRESH_S or self._progress is None:
            return
        running = now - self._epoch_started
        if self._batch_task is None:
            if running < WITHIN_EPOCH_AFTER_S:
                return
            self._batch_task = self._progress.add_task(
                self._batch_description(), total=self.n_batches, completed=0, stats="",
                kind=BATCHES, rate=None)
        self._last_batch_draw = now
        self._progress.update(self._batch_task, completed=-(-samples // self.batch_size),
                              rate=samples / running if running > 0 else None)
        if self._epochs_here == 0 and self._per_epoch_hint is None and samples > 0:
            # No epoch measured yet: the time left from this one's pace.
            self._progress.update(self._task, per_epoch=running * self.n_train / samples)

    def _plain_line(self, stats: str) -> str:
        """The epoch just ended as one line: `numpy epoch 3/20  loss 0.4332  train 91.44%  test
        89.17%  44.2k samples/s  0:03 elapsed, 0:30 left`."""
        now = self._clock()
        epoch = self._done + self._epochs_here
        per_epoch = (now - self._started) / max(1, self._epochs_here)
        rate = (self.n_train * self._epochs_here / self._train_seconds
                if self._train_seconds > 0 else None)
        elapsed = self._before + now - self._started
        left = max(0, self.total - epoch) * per_epoch
        parts = [f"{self._description.split()[0]} epoch {epoch}/{self.total}", stats,
                 rate_text(rate), f"{clock_text(elapsed)} elapsed, {clock_text(left)} left"]
        return "  ".join(part for part in parts if part)

    def _batch_description(self) -> str:
        epoch = self._done + self._epochs_here + 1
        return f"  epoch {epoch}" if self.display.console.width < WIDE else f"  epoch {epoch} batches"
