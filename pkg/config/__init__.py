"""The layered config model: sources, schema, durations, typed getters, YAML/env loading.

Modules: :mod:`~pkg.config.sources`, :mod:`~pkg.config.errors`, :mod:`~pkg.config.change`,
:mod:`~pkg.config.reader` (plain types and the read interface); :mod:`~pkg.config.durations`,
:mod:`~pkg.config.coerce`, :mod:`~pkg.config.getters`, :mod:`~pkg.config.tree`,
:mod:`~pkg.config.safe_yaml` (shared with the remote side); :mod:`~pkg.config.schema`,
:mod:`~pkg.config.limits`, :mod:`~pkg.config.wire_size`, :mod:`~pkg.config.model`,
:mod:`~pkg.config.loader` (the core agent).
"""
