"""`python -m gophermart` runs the same console script as `gophermart`."""

import sys

from gophermart.runtime.cli import main

sys.exit(main())
