"""Parsing the providers' answers, completeness, and the requests this unit writes."""

from __future__ import annotations

import pytest
from charmed_octavia.unit import relations

from tests.unit.charm_data import (
    DB_PASSWORD,
    KEYSTONE_UNIT,
    MYSQL_ROUTER_UNIT,
    RABBIT_PASSWORD,
    b64,
    pem_pair,
    rabbit_unit,
)


def test_identity_request_is_what_keystone_reads():
    # Act
    data = relations.identity_request(
        region="RegionOne",
        public_url="http://10.0.0.1:9876",
        internal_url="http://10.0.0.2:9876",
        admin_url="http://10.0.0.3:9876",
    )

    # Assert
    roles = (
        "load-balancer_observer,load-balancer_global_observer,load-balancer_member,"
        "load-balancer_quota_admin,load-balancer_admin"
    )
    assert data == {
        "service": "octavia",
        "region": "RegionOne",
        "public_url": "http://10.0.0.1:9876",
        "internal_url": "http://10.0.0.2:9876",
        "admin_url": "http://10.0.0.3:9876",
        "requested_roles": roles,
        "add_role_to_admin": roles,
    }


def test_identity_complete_answer_parses():
    # Act
    creds = relations.parse_identity({"keystone/0": KEYSTONE_UNIT})

    # Assert
    assert creds is not None
    assert creds.admin_auth_url == "http://10.5.0.10:35357"
    assert creds.public_auth_url == "http://10.5.0.10:5000"
    assert creds.auth_url(use_internal=True) == "http://10.5.0.11:5000"
    assert (creds.username, creds.project_name, creds.user_domain_name) == (
        "octavia",
        "services",
        "service_domain",
    )


def test_identity_null_values_count_as_missing_and_other_units_are_ignored():
    # Arrange
    leader = {**KEYSTONE_UNIT, "service_password": "__null__"}
    follower = {"private-address": "10.5.0.12"}

    # Act
    creds = relations.parse_identity({"keystone/0": leader, "keystone/1": follower})
    missing = relations.missing_identity_keys({"keystone/0": leader, "keystone/1": follower})

    # Assert
    assert creds is None
    assert missing == ["service_password"]


def test_identity_complete_on_any_unit_counts():
    # Act
    creds = relations.parse_identity({"keystone/0": {}, "keystone/1": KEYSTONE_UNIT})

    # Assert
    assert creds is not None and creds.password == KEYSTONE_UNIT["service_password"]


def test_identity_without_internal_keys_falls_back_to_admin_side():
    # Arrange
    data = {k: v for k, v in KEYSTONE_UNIT.items() if not k.startswith("internal_")}

    # Act
    creds = relations.parse_identity({"keystone/0": data})

    # Assert
    assert creds is not None and creds.auth_url(use_internal=True) == "http://10.5.0.10:35357"


def test_database_ready_only_for_allowed_units():
    # Act
    mine = relations.parse_database({"mysql-router/0": MYSQL_ROUTER_UNIT}, "octavia/0")
    other = relations.parse_database({"mysql-router/0": MYSQL_ROUTER_UNIT}, "octavia/7")
    reason = relations.database_wait_reason({"mysql-router/0": MYSQL_ROUTER_UNIT}, "octavia/7")

    # Assert
    assert mine is not None and (mine.host, mine.port, mine.wait_timeout) == (
        "127.0.0.1",
        3306,
        3600,
    )
    assert other is None
    assert reason == "octavia/7 not yet in allowed_units"


def test_database_url_quotes_the_password_and_points_at_the_ca():
    # Arrange
    ca, _ = pem_pair("db-ca")
    data = {**MYSQL_ROUTER_UNIT, "ssl_ca": b64(ca)}

    # Act
    creds = relations.parse_database({"mysql-router/0": data}, "octavia/0")

    # Assert
    assert creds is not None and creds.ssl_ca == ca
    assert creds.url(ssl_ca_path="/etc/octavia/database-ca.pem") == (
        "mysql+pymysql://octavia:db-Secret%40pass@127.0.0.1:3306/octavia"
        "?ssl_ca=/etc/octavia/database-ca.pem"
    )
    assert DB_PASSWORD not in creds.url()


def test_database_wait_reasons():
    # Arrange
    cases = {
        "no mysql-router unit yet": {},
        "missing db_host, password": {"mysql-router/0": {"allowed_units": "octavia/0"}},
        "the database cluster is upgrading its series": {
            "mysql-router/0": {**MYSQL_ROUTER_UNIT, "cluster-series-upgrading": "True"}
        },
    }

    # Act
    reasons = {k: relations.database_wait_reason(v, "octavia/0") for k, v in cases.items()}

    # Assert
    assert all(reason == expected for expected, reason in reasons.items())


def test_transport_url_lists_every_ready_rabbitmq_unit_in_unit_order():
    # Arrange
    units = {
        "rabbitmq-server/10": rabbit_unit("10.5.0.30"),
        "rabbitmq-server/2": rabbit_unit("10.5.0.22"),
        "rabbitmq-server/3": {"private-address": "10.5.0.23"},  # no password yet
        "rabbitmq-server/0": rabbit_unit("fd00::20"),
    }

    # Act
    creds = relations.parse_amqp(units)

    # Assert
    assert creds is not None
    pw = "rmq-Secret%2Bpass"
    assert creds.transport_url == (
        f"rabbit://octavia:{pw}@[fd00::20]:5672,octavia:{pw}@10.5.0.22:5672,"
        f"octavia:{pw}@10.5.0.30:5672/openstack"
    )
    assert RABBIT_PASSWORD not in creds.transport_url


def test_rabbitmq_tls_uses_the_ssl_port_and_ca():
    # Arrange
    ca, _ = pem_pair("rmq-ca")
    units = {
        "rabbitmq-server/0": {**rabbit_unit("10.5.0.20"), "ssl_port": "5671", "ssl_ca": b64(ca)}
    }

    # Act
    creds = relations.parse_amqp(units)

    # Assert
    assert creds is not None and creds.port == 5671 and creds.ssl_ca == ca
    assert creds.transport_url.endswith("@10.5.0.20:5671/openstack")


def test_no_ready_rabbitmq_unit_means_incomplete():
    # Act / Assert
    assert relations.parse_amqp({"rabbitmq-server/0": {"private-address": "10.5.0.20"}}) is None
    assert relations.parse_amqp({}) is None


def test_requests_for_database_and_amqp():
    # Act / Assert
    assert relations.database_request("10.0.0.5") == {
        "database": "octavia",
        "username": "octavia",
        "hostname": "10.0.0.5",
    }
    assert relations.amqp_request("10.0.0.5") == {
        "username": "octavia",
        "vhost": "openstack",
        "private-address": "10.0.0.5",
    }


def test_a_value_with_a_control_character_counts_as_not_set():
    # Arrange: a newline would end the line of octavia.conf and start a new option.
    bad = {**KEYSTONE_UNIT, "service_password": "pw\n[DEFAULT]\ndebug = true"}

    # Act
    creds = relations.parse_identity({"keystone/0": bad})
    missing = relations.missing_identity_keys({"keystone/0": bad})

    # Assert
    assert creds is None
    assert missing == ["service_password"]


def test_a_database_host_with_a_nul_leaves_the_database_waiting():
    unit = {**MYSQL_ROUTER_UNIT, "db_host": "10.5.0.3\x00"}
    assert relations.parse_database({"mysql-router/0": unit}, "octavia/0") is None


def test_api_url_scheme_is_http_or_https():
    # Act / Assert
    assert relations.api_url("fd00::5", "https") == "https://[fd00::5]:9876"
    assert relations.api_url("octavia.example.com") == "http://octavia.example.com:9876"
    with pytest.raises(ValueError, match="scheme must be http or https"):
        relations.api_url("10.5.0.5", "ftp")
