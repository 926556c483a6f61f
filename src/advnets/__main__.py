"""`python -m advnets`: the command line (advnets.cli)."""

import sys

try:
    from advnets.cli import main
except KeyboardInterrupt:  # Ctrl-C while Python loads advnets: no traceback, the shell's status
    sys.exit(130)

sys.exit(main())
