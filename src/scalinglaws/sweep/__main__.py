"""``python -m scalinglaws.sweep design|run|status ...``."""

import sys

from scalinglaws.sweep.cli import main

sys.exit(main(sys.argv[1:]))
