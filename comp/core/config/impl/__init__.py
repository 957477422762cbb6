"""Implementation of the config component: defaults, the YAML file, ``DD_*`` variables, CLI overrides.

The component is a :class:`pkg.config.model.LayeredConfig` built by :func:`pkg.config.loader.build_config`.
A bad file or value raises from :func:`new_component`, so startup aborts with a message naming the file,
line, variable or key, the value and the expected type.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from comp.core.config.def_ import Component, Params
from pkg.config.declarations import declare_from_entry_points, declare_from_files
from pkg.config.loader import build_config
from pkg.config.schema import Schema, default_schema

__all__ = ["Provides", "Requires", "new_component"]


@dataclass(frozen=True)
class Requires:
    """``schema``: the declared keys (None: :func:`pkg.config.schema.default_schema`); a binary that
    needs more keys passes ``default_schema()`` extended with ``Schema.declare``."""

    params: Params
    schema: Schema | None = None


@dataclass(frozen=True)
class Provides:
    comp: Component


def new_component(requires: Requires) -> Provides:
    """Build the config. Raises ConfigFileError, ConfigValueError or ConfigDeclarationError on bad
    input."""
    params = requires.params
    environ = params.environ if params.environ is not None else os.environ
    schema = requires.schema if requires.schema is not None else default_schema()
    if params.key_declarations:
        schema = schema.copy() if schema.frozen else schema
        declare_from_entry_points(schema)
        declare_from_files(schema, params.config_file)
    config = build_config(
        schema,
        params.config_file,
        environ,
        params.overrides,
    )
    return Provides(comp=config)
