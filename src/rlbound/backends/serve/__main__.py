"""``python -m rlbound.backends.serve MODEL_DIR ...`` (see the package docstring)."""

import sys

from rlbound.backends.serve.cli import main

sys.exit(main())
