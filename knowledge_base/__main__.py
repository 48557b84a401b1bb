"""Run the ``kb`` command line: ``python -m knowledge_base``."""

from __future__ import annotations

import sys

from knowledge_base.cli import main

if __name__ == "__main__":
    sys.exit(main())
