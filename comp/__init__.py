"""Components: ``comp/<bundle>/<name>/`` with ``def_`` (interface), ``impl`` and ``mock`` packages."""
