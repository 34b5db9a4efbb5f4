"""``python -m scalinglaws.sweep design|run|status ...``: the same as ``scalinglaws sweep ...``."""

import sys

from scalinglaws.cli.app import main

sys.exit(main(["sweep", *sys.argv[1:]]))
