"""The CPU thread-count rule every CogIP command applies before torch does any work.

Rule: when ``OMP_NUM_THREADS`` is not set, use **1 CPU thread per process** (``OMP_NUM_THREADS=1``, also
``MKL_NUM_THREADS``, inherited by every subprocess). An explicit ``OMP_NUM_THREADS`` is always kept.

Why: the ops of a tiny model (the demo, the tests, the benchmarks) are far too small to gain from threads, and
torch's default (one thread per core) spin-waits on cores that other processes are using. Measured on the
project's 2-core CPU machine, 200 cogip-train steps of the demo's tiny model: on an idle machine 1, 2 and
default (2) threads all took 12-13 s (the 128 x 4 item evaluation 10-12 s each); with one other busy process
on the machine, 1 thread took 13 s, the default 119 s and 2 threads 183 s. GPU runs keep the model's work on
the GPU, so one CPU thread costs them nothing; a user running a large model on a many-core CPU sets
``OMP_NUM_THREADS`` (``accelerate launch`` sets it per process) and is not overridden.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
DEFAULT_THREADS = 1
HELP = (
    f"CPU threads: {DEFAULT_THREADS} per process unless OMP_NUM_THREADS is set (torch's one-per-core default "
    "is many times slower for small models on a shared CPU); set OMP_NUM_THREADS to override."
)


def apply_cpu_threads(environ: MutableMapping[str, str] | None = None) -> int:
    """Apply the rule; returns the thread count in force (the user's ``OMP_NUM_THREADS`` when set and valid).

    Call it first thing in a CLI's ``main``. The environment variables reach subprocesses and a torch imported
    later; a torch already imported is told with ``torch.set_num_threads`` (its OpenMP pool read the variable
    at import).
    """
    env = os.environ if environ is None else environ
    chosen = _positive_int(env.get("OMP_NUM_THREADS"))
    if chosen is None:
        chosen = DEFAULT_THREADS
        for var in THREAD_VARS:
            env[var] = str(chosen)
    if environ is None and "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(chosen)
    return chosen


def _positive_int(text: str | None) -> int | None:
    """``OMP_NUM_THREADS`` as a thread count (the outer level of a nested ``"4,2"``); unset, empty or malformed
    (``"abc"``, ``"0"``) is ``None``: OpenMP ignores such values, so the rule applies."""
    try:
        value = int(str(text).split(",")[0].strip())
    except ValueError:
        return None
    return value if value > 0 else None
