"""Test doubles of the config stream consumer: no network, no core agent.

- :class:`MockConsumer`: the consumer ``Component``, for code composed like the binaries;
- :class:`MockConfigStream` / :class:`MockSyncConfigStream`: the public facades, for code written
  against ``connect_config_stream`` or ``SyncConfigStream``.
"""

from comp.core.configstreamconsumer.mock.consumer import MockConsumer
from comp.core.configstreamconsumer.mock.streams import MockConfigStream, MockSyncConfigStream

__all__ = ["MockConfigStream", "MockConsumer", "MockSyncConfigStream"]
