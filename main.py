#!/usr/bin/env python3
"""Mask kiosk entry point. ``python main.py`` starts the kiosk; ``python main.py --help`` lists commands."""

import sys

from kiosk.cli import main

if __name__ == "__main__":
    sys.exit(main())
