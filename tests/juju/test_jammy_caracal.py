"""Jammy with the Ubuntu Cloud Archive (openstack-origin cloud:jammy-caracal)."""

from __future__ import annotations

import pytest

from tests.juju import suite


@pytest.fixture(scope="module")
def target() -> suite.Target:
    return suite.Target(
        bases_index=0,
        bundle="jammy-caracal.yaml.j2",
        origin="cloud:jammy-caracal",
        channels={
            "openstack_channel": "2024.1/stable",
            "rabbitmq_channel": "3.9/stable",
            "vault_channel": "1.8/stable",
            "mysql_channel": "8.0/stable",
        },
    )


test_build_and_deploy_the_bundle = suite.test_build_and_deploy_the_bundle
test_unit_reaches_active_unit_is_ready = suite.test_unit_reaches_active_unit_is_ready
test_published_relation_data_matches_the_contracts = (
    suite.test_published_relation_data_matches_the_contracts
)
test_octavia_conf_is_private_and_the_api_answers = (
    suite.test_octavia_conf_is_private_and_the_api_answers
)
test_run_test_plan_returns_a_verdict = suite.test_run_test_plan_returns_a_verdict
