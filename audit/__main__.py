"""``python -m audit`` is the same as the ``cam-audit`` command."""

import sys

from audit.app.cli import main

if __name__ == "__main__":
    sys.exit(main())
