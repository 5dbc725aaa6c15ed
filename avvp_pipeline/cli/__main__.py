"""``python -m avvp_pipeline.cli``: the ``avvp`` command."""

import sys

from . import main

sys.exit(main())
