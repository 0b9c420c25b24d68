"""``python -m cogip_gen`` — the same as the ``cogip-gen`` console script."""

import sys

from .cli import main

sys.exit(main())
