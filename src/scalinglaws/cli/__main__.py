"""``python -m scalinglaws.cli ...``: the ``scalinglaws`` command."""

import sys

from scalinglaws.cli.app import main

sys.exit(main())
