"""``python -m cogip_tasks.leaderboard``: the same as the ``cogip-leaderboard`` console script."""

from .cli import main

main()
