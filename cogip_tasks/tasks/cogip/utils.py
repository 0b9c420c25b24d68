"""lmms-eval hooks of the CogIP-Bench tasks (written by `cogip-eval tasks write`): made from spec.yaml beside this
file by cogip_tasks.task_hooks. lmms-eval loads this file by path, so it imports the package absolutely."""

from pathlib import Path

from cogip_tasks.task_hooks import define_hooks

define_hooks(globals(), Path(__file__).with_name("spec.yaml"))
