"""Launch Masklet from a source checkout: ``python main.py [VIDEO_OR_PROJECT]``."""

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
