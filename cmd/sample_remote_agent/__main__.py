"""``python -m sample_remote_agent``."""

from __future__ import annotations

import sys

from sample_remote_agent.main import main

sys.exit(main())
