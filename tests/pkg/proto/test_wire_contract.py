"""The wire contract with the Go agent: names and field numbers must never drift."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf.descriptor import Descriptor, ServiceDescriptor

from pkg.proto.gen.datadog.api.v1 import api_pb2
from pkg.proto.gen.datadog.model.v1 import configstream_pb2
from pkg.proto.gen.datadog.remoteagent.flare.v1 import flare_pb2
from pkg.proto.gen.datadog.remoteagent.status.v1 import status_pb2
from pkg.proto.gen.datadog.remoteagent.telemetry.v1 import telemetry_pb2
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2

MESSAGES: dict[str, tuple[Descriptor, dict[str, int]]] = {
    "datadog.model.v1.ConfigStreamRequest": (
        configstream_pb2.ConfigStreamRequest.DESCRIPTOR,
        {"name": 1, "session_id": 2},
    ),
    "datadog.model.v1.ConfigSetting": (
        configstream_pb2.ConfigSetting.DESCRIPTOR,
        {"source": 1, "key": 2, "value": 3, "unset_source": 4},
    ),
    "datadog.model.v1.ConfigSnapshot": (
        configstream_pb2.ConfigSnapshot.DESCRIPTOR,
        {"origin": 1, "sequence_id": 2, "settings": 3},
    ),
    "datadog.model.v1.ConfigUpdate": (
        configstream_pb2.ConfigUpdate.DESCRIPTOR,
        {"origin": 1, "sequence_id": 2, "setting": 3},
    ),
    "datadog.model.v1.ConfigEvent": (
        configstream_pb2.ConfigEvent.DESCRIPTOR,
        {"snapshot": 1, "update": 2},
    ),
    "datadog.remoteagent.v1.RegisterRemoteAgentRequest": (
        remoteagent_pb2.RegisterRemoteAgentRequest.DESCRIPTOR,
        {"pid": 1, "flavor": 2, "display_name": 3, "api_endpoint_uri": 4, "services": 5},
    ),
    "datadog.remoteagent.v1.RegisterRemoteAgentResponse": (
        remoteagent_pb2.RegisterRemoteAgentResponse.DESCRIPTOR,
        {"session_id": 1, "recommended_refresh_interval_secs": 2},
    ),
    "datadog.remoteagent.v1.RefreshRemoteAgentRequest": (
        remoteagent_pb2.RefreshRemoteAgentRequest.DESCRIPTOR,
        {"session_id": 1},
    ),
    "datadog.remoteagent.v1.RefreshRemoteAgentResponse": (
        remoteagent_pb2.RefreshRemoteAgentResponse.DESCRIPTOR,
        {},
    ),
}


@pytest.mark.parametrize("full_name", sorted(MESSAGES))
def test_message_names_and_field_numbers(full_name: str) -> None:
    descriptor, fields = MESSAGES[full_name]
    assert descriptor.full_name == full_name
    upstream = {f.name: f.number for f in descriptor.fields if f.number < 100}
    assert upstream == fields


def test_extensions_use_numbers_of_100_and_above() -> None:
    request = configstream_pb2.ConfigStreamRequest.DESCRIPTOR
    snapshot = configstream_pb2.ConfigSnapshot.DESCRIPTOR
    update = configstream_pb2.ConfigUpdate.DESCRIPTOR
    for name in ("resume_from", "max_batch_updates", "filter", "progress"):
        assert request.fields_by_name[name].number >= 100, name
    assert snapshot.fields_by_name["epoch"].number >= 100
    assert update.fields_by_name["previous_sequence_id"].number >= 100


def test_event_is_a_oneof_of_snapshot_and_update_plus_extensions() -> None:
    oneof = configstream_pb2.ConfigEvent.DESCRIPTOR.oneofs_by_name["event"]
    assert {f.name: f.number for f in oneof.fields if f.number < 100} == {"snapshot": 1, "update": 2}
    assert {f.name: f.number for f in oneof.fields if f.number >= 100} == {"batch": 100, "progress": 101}


def test_setting_value_is_a_protobuf_value() -> None:
    value = configstream_pb2.ConfigSetting.DESCRIPTOR.fields_by_name["value"]
    assert value.message_type is not None
    assert value.message_type.full_name == "google.protobuf.Value"


def _methods(service: ServiceDescriptor) -> dict[str, tuple[str, str, bool]]:
    return {
        m.name: (m.input_type.full_name, m.output_type.full_name, m.server_streaming) for m in service.methods
    }


def test_agent_secure_service() -> None:
    service = api_pb2.DESCRIPTOR.services_by_name["AgentSecure"]
    assert service.full_name == "datadog.api.v1.AgentSecure"
    assert _methods(service) == {
        "RegisterRemoteAgent": (
            "datadog.remoteagent.v1.RegisterRemoteAgentRequest",
            "datadog.remoteagent.v1.RegisterRemoteAgentResponse",
            False,
        ),
        "RefreshRemoteAgent": (
            "datadog.remoteagent.v1.RefreshRemoteAgentRequest",
            "datadog.remoteagent.v1.RefreshRemoteAgentResponse",
            False,
        ),
        "StreamConfigEvents": (
            "datadog.model.v1.ConfigStreamRequest",
            "datadog.model.v1.ConfigEvent",
            True,
        ),
    }


def test_remote_agent_service() -> None:
    service = remoteagent_pb2.DESCRIPTOR.services_by_name["RemoteAgent"]
    assert service.full_name == "datadog.remoteagent.v1.RemoteAgent"
    assert set(_methods(service)) == {"RegisterRemoteAgent", "RefreshRemoteAgent", "ReportRemoteAgentEvent"}


@pytest.mark.parametrize(
    ("module", "service_name", "method"),
    [
        (status_pb2, "datadog.remoteagent.status.v1.StatusProvider", "GetStatusDetails"),
        (flare_pb2, "datadog.remoteagent.flare.v1.FlareProvider", "GetFlareFiles"),
        (telemetry_pb2, "datadog.remoteagent.telemetry.v1.TelemetryProvider", "GetTelemetry"),
    ],
)
def test_provider_services(module: Any, service_name: str, method: str) -> None:
    (service,) = module.DESCRIPTOR.services_by_name.values()
    assert service.full_name == service_name
    assert set(_methods(service)) == {method}


def test_provider_and_event_field_numbers() -> None:
    fields: dict[Any, dict[str, int]] = {
        status_pb2.GetStatusDetailsResponse: {"main_section": 1, "named_sections": 2},
        status_pb2.StatusSection: {"fields": 1},
        flare_pb2.GetFlareFilesResponse: {"files": 1},
        telemetry_pb2.GetTelemetryResponse: {"prom_text": 1},
        remoteagent_pb2.ReportRemoteAgentEventRequest: {"session_id": 1, "events": 2},
        remoteagent_pb2.Event: {"message": 1, "invalid_api_key": 2},
    }
    for message, numbers in fields.items():
        assert {f.name: f.number for f in message.DESCRIPTOR.fields} == numbers
    assert remoteagent_pb2.Event.DESCRIPTOR.oneofs_by_name["details"].fields[0].name == "invalid_api_key"
    assert (
        telemetry_pb2.GetTelemetryResponse.DESCRIPTOR.oneofs_by_name["payload"].fields[0].name == "prom_text"
    )


def test_old_client_bytes_parse_and_new_fields_stay_unset() -> None:
    # A request as the Go agent's client encodes it: field 1 "ra", field 2 "sid".
    raw = b"\x0a\x02ra\x12\x03sid"
    request = configstream_pb2.ConfigStreamRequest.FromString(raw)
    assert (request.name, request.session_id) == ("ra", "sid")
    assert not request.HasField("resume_from")
