"""``python -m hub_upload``: the cogip-upload CLI."""

import sys

from .cli import main

sys.exit(main())
