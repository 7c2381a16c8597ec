"""Fixtures of the Kubernetes-side tests."""

from __future__ import annotations

import pytest

from luke_testing.kube_fake import FakeKubernetes, Scenario


@pytest.fixture
def fake_kube():
    """`fake_kube(scenario)` starts a fake API server for the test; stopped afterwards."""
    servers: list[FakeKubernetes] = []

    def start(scenario: Scenario) -> FakeKubernetes:
        server = FakeKubernetes(scenario).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
