"""``python -m core_agent``: the same as the ``core-agent`` command."""

from __future__ import annotations

from core_agent.main import main

raise SystemExit(main())
