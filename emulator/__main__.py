"""`python -m emulator` is `seqr-emulator`."""

import gc
import sys

# The collector is off while the modules load and the app is built: a start makes some 70,000
# objects and few cycles (2,646 unreachable), and the collector's passes over them were 38M
# instructions of a served start to `listening` (1,507M against 1,470M without; callgrind).
# `cli.main` turns it on again, `serve` once it listens (`server.serve_forever`).
gc.disable()

from emulator.cli import main  # noqa: E402  # after the collector is off

sys.exit(main())
