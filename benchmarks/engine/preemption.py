"""Slurm's warning before a job ends, held back until training can save a checkpoint.

A run launched with ``hydra/launcher=slurm`` is a submitit job, submitted with
``--signal=USR2@<signal_delay_s>``: Slurm sends it SIGUSR2 that many seconds before its time
limit, and on pre-emption. submitit's handler for that signal
(``SignalHandler.checkpoint_and_try_requeue``) asks the Hydra launcher for the job to resubmit
(``checkpoint()``: the same run again), runs ``scontrol requeue`` and ends the process with
``sys.exit(-1)``, raised wherever the main thread happens to be, e.g. halfway through an
optimizer step. The requeued run would then go back to its last end-of-epoch checkpoint.

:class:`DeferredSignal` holds the signal back instead: inside the ``with`` block the signal only
sets a flag, which the training loop reads between optimizer steps (``fit(interrupted=...)``);
it saves a checkpoint there and stops, and leaving the block hands the signal over to the
handler it replaced (submitit's: requeue and exit). A signal that arrives outside the block, or
after the last optimizer step, goes to that handler as before; the run's checkpoint is then the
one of its last epoch. Where no Python handler is installed (a plain run, the local launcher)
or outside the main thread, the block changes nothing.
"""

from __future__ import annotations

import os
import signal
import threading


def submitit_signal() -> signal.Signals:
    """The signal submitit's Slurm jobs ask for: SIGUSR2 unless $SUBMITIT_PREEMPT_SIGNAL says."""
    return signal.Signals["SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2")]


class DeferredSignal:
    """``with DeferredSignal() as preemption:`` records `signum` instead of handling it at once;
    ``preemption.received()`` tells whether it came; on leaving the block the replaced handler
    gets it (and may end the process)."""

    def __init__(self, signum: int | None = None):
        self.signum = submitit_signal() if signum is None else signum
        self.handler = None  # the replaced Python handler, if any
        self._received = False

    def received(self) -> bool:
        return self._received

    def _record(self, signum, frame) -> None:
        self._received = True

    def __enter__(self) -> DeferredSignal:
        handler = signal.getsignal(self.signum)
        if callable(handler) and threading.current_thread() is threading.main_thread():
            self.handler = handler
            signal.signal(self.signum, self._record)
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if self.handler is None:
            return
        signal.signal(self.signum, self.handler)
        if self._received:
            name = signal.Signals(self.signum).name
            print(f"{name}: {exc}" if exc else f"{name} after the last step", flush=True)
            self.handler(self.signum, None)
