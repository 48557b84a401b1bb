"""``python -m crm_bridge``: the ``crm-bridge`` command (default: migrate, then serve)."""

import sys

from crm_bridge.cli import main

sys.exit(main())
