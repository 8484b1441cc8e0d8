"""The bundled ``loda`` executable's script (PyInstaller runs it as ``__main__``)."""

import multiprocessing
import sys

from loda_desktop.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen Windows app re-runs this script in any child process
    sys.exit(main())
