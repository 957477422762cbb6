"""``python -m demo`` (``make demo``)."""

from __future__ import annotations

import sys

from demo.script import main

sys.exit(main())
