"""``python -m scalinglaws ...``: the ``scalinglaws`` command."""

import sys

from scalinglaws.cli.app import main

sys.exit(main())
