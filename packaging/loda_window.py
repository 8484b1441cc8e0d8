"""The bundled ``loda-desktop`` executable's script: the window (PyInstaller runs it as ``__main__``)."""

import multiprocessing
import sys

from loda_desktop.ui.app import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen Windows app re-runs this script in any child process
    sys.exit(main())
