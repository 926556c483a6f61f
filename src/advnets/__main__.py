"""`python -m advnets`: the command line (advnets.cli)."""

import sys


def _interrupt_between_imports(signum, frame):
    """Ctrl-C as Python's own KeyboardInterrupt, but never in the middle of an import: some
    libraries' compiled start-up (NumPy's) clears an error raised inside it, and a module cut
    in half then fails later with a confusing traceback. During an import the signal is sent
    again 50 ms later, until the import is over."""
    f = frame
    while f is not None:
        if f.f_code.co_filename.startswith("<frozen importlib"):
            import os
            import threading

            threading.Timer(0.05, os.kill, (os.getpid(), signum)).start()
            return
        f = f.f_back
    raise KeyboardInterrupt


try:
    import signal

    signal.signal(signal.SIGINT, _interrupt_between_imports)
    from advnets.cli import main
except KeyboardInterrupt:  # Ctrl-C while Python loads advnets: no traceback, the shell's status
    sys.exit(130)

sys.exit(main())
