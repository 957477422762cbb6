"""Conversions between Python values and protobuf messages.

:mod:`~pkg.protoconv.values`: Python values to and from ``google.protobuf.Value``.
:mod:`~pkg.protoconv.configevents`: ``datadog.model.v1.ConfigEvent`` messages from config changes.
"""
