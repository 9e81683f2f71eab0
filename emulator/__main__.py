"""`python -m emulator` is `seqr-emulator`."""

import sys

from emulator.cli import main

sys.exit(main())
