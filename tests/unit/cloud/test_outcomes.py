"""How a failed request is told in one line: which service of the catalog was unreachable,
did not answer, failed its version discovery or answered with an error, and why when its
answer says so (real requests through openstacksdk and keystoneauth to ports of 127.0.0.1);
and how bad values are shown and secrets masked in messages."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

import pytest
from charmed_octavia.cloud import catalog, outcomes
from charmed_octavia.cloud.outcomes import ConflictError, answer_timed_out, describe_error
from keystoneauth1 import session as ks_session
from openstack import exceptions

from tests.unit.loopback_cloud import answering, closed_port, connection, silent_port

# Answers of the lab's services with a dependency stopped.
NOVA_WITHOUT_DATABASE = {
    "computeFault": {
        "code": 500,
        "message": "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ "
        "and attach the Nova API log if possible.\n<class 'oslo_db.exception.DBConnectionError'>",
    }
}
OCTAVIA_WITHOUT_DATABASE = {
    "faultcode": "Server",
    "faultstring": "(pymysql.err.OperationalError) (2003, \"Can't connect to MySQL server on "
    "'127.0.0.1' ([Errno 111] Connection refused)\")\n[SQL: SELECT 1]",
    "debuginfo": None,
}
WITHOUT_KEYSTONE = {
    "message": "The server is currently unavailable. Please try again at a later time.<br /><br />"
    "\nThe Keystone service is temporarily unavailable.\n\n",
    "code": "503 Service Unavailable",
    "title": "Service Unavailable",
}


def _barbican_versions(port: int) -> dict:
    return {
        "versions": {
            "values": [
                {
                    "id": "v1",
                    "status": "stable",
                    "links": [{"rel": "self", "href": f"http://127.0.0.1:{port}/v1/"}],
                    "media-types": [
                        {
                            "base": "application/json",
                            "type": "application/vnd.openstack.key-manager-v1+json",
                        }
                    ],
                }
            ]
        }
    }


def _octavia_unreachable_keystone(keystone: str) -> dict:
    return {
        "faultcode": "Server",
        "faultstring": "Provider 'amphora' reports error: Unable to establish connection to "
        f"{keystone}/auth/tokens: HTTPConnectionPool(host='127.0.0.1'): Max retries exceeded "
        "(Caused by NewConnectionError('Failed to establish a new connection: [Errno 111] "
        "Connection refused'))",
        "debuginfo": None,
    }


def _keystone() -> str:
    return f"http://127.0.0.1:{closed_port()}/v3"


def _raised(call) -> BaseException:
    with pytest.raises(Exception) as caught:
        call()
    return caught.value


def test_a_refused_connection_names_the_service_of_the_catalog():
    # Arrange
    barbican = f"http://127.0.0.1:{closed_port()}"
    conn = connection(_keystone(), {"key-manager": barbican})
    error = _raised(lambda: conn.session.post(f"{barbican}/v1/secrets", json={}))

    # Act
    text = describe_error(error, catalog.endpoints(conn))

    # Assert
    assert text == (
        f"Barbican (key-manager) at {barbican} is unreachable (connection refused): "
        f"POST {barbican}/v1/secrets"
    )
    assert not answer_timed_out(error)


def test_keystone_unreachable_before_the_first_token_is_named_by_the_identity_url():
    # Arrange: a new connection; its first request asks Keystone for a token.
    keystone = _keystone()
    conn = connection(keystone)
    error = _raised(conn.session.get_token)

    # Act
    text = describe_error(error, catalog.endpoints(conn))

    # Assert
    assert text.startswith(f"Keystone (identity) at {keystone} is unreachable (connection")


def test_a_url_outside_the_catalog_is_told_by_its_host_and_port():
    # Arrange
    port = closed_port()
    error = _raised(lambda: ks_session.Session().get(f"http://127.0.0.1:{port}/x"))

    # Act
    text = describe_error(error, ())

    # Assert
    assert (
        text
        == f"http://127.0.0.1:{port} is unreachable (connection refused): GET http://127.0.0.1:{port}/x"
    )


def test_a_change_octavia_does_not_answer_in_time_points_at_its_message_queue():
    # Arrange: Octavia's API accepts the connection and blocks, as it does without RabbitMQ.
    with silent_port() as port:
        octavia = f"http://127.0.0.1:{port}"
        conn = connection(_keystone(), {"load-balancer": octavia}, timeout=0.2)
        url = f"{octavia}/v2/lbaas/loadbalancers"
        change = _raised(lambda: conn.session.post(url, json={}))
        read = _raised(lambda: conn.session.get(url))

        # Act
        change_text = describe_error(change, catalog.endpoints(conn))
        read_text = describe_error(read, catalog.endpoints(conn))

    # Assert
    assert answer_timed_out(change)
    assert change_text.startswith(
        f"Octavia (load-balancer) at {octavia} did not answer POST {url} within 0.2 s "
        "(an Octavia API blocks on a change while its message queue (RabbitMQ)"
    )
    assert (
        read_text == f"Octavia (load-balancer) at {octavia} did not answer GET {url} within 0.2 s"
    )


def test_an_error_answer_names_the_service_and_that_it_could_not_reach_its_database():
    # Arrange
    with (
        answering(500, NOVA_WITHOUT_DATABASE) as nova_port,
        answering(500, OCTAVIA_WITHOUT_DATABASE) as octavia_port,
    ):
        nova = f"http://127.0.0.1:{nova_port}/v2.1"
        octavia = f"http://127.0.0.1:{octavia_port}"
        conn = connection(_keystone(), {"compute": nova, "load-balancer": octavia})
        errors = [
            _raised(
                lambda url=url: exceptions.raise_from_response(
                    conn.session.get(url, raise_exc=False)
                )
            )
            for url in (f"{nova}/os-keypairs/k", f"{octavia}/v2/lbaas/loadbalancers")
        ]

    # Act
    nova_text, octavia_text = (describe_error(e, catalog.endpoints(conn)) for e in errors)

    # Assert
    assert nova_text.startswith(f"Nova (compute) at {nova} answered 500 (Nova could not reach")
    assert "its database): " in nova_text and "DBConnectionError" in nova_text
    assert octavia_text.startswith(
        f"Octavia (load-balancer) at {octavia} answered 500 (Octavia could not reach its database)"
    )


def test_an_error_answer_that_names_another_unreachable_service_says_which():
    # Arrange: Octavia's API could not get a token to ask Nova about the compute flavor.
    keystone = _keystone()
    with answering(500, _octavia_unreachable_keystone(keystone)) as port:
        octavia = f"http://127.0.0.1:{port}"
        conn = connection(keystone, {"load-balancer": octavia})
        response = conn.session.post(f"{octavia}/v2.0/lbaas/flavorprofiles", raise_exc=False)
    error = _raised(lambda: exceptions.raise_from_response(response))

    # Act
    text = describe_error(error, catalog.endpoints(conn))

    # Assert
    assert text.startswith(
        f"Octavia (load-balancer) at {octavia} answered 500 (Octavia could not reach "
        f"Keystone (identity) at {keystone}): "
    )


def test_version_discovery_refused_by_a_service_without_keystone_names_both():
    # Arrange: Barbican lists its versions; its v1 document needs the token validated.
    with answering(503, WITHOUT_KEYSTONE, root=(300, _barbican_versions)) as port:
        barbican = f"http://127.0.0.1:{port}"
        conn = connection(_keystone(), {"key-manager": barbican})
        error = _raised(
            lambda: conn.key_manager.create_secret(
                name="s", payload="p", payload_content_type="text/plain"
            )
        )

    # Act
    text = describe_error(error, catalog.endpoints(conn))

    # Assert: openstacksdk 4.22 stops at the version discovery; 4.13 (the newest for Python
    # 3.10) and older skip the failed v1 document and send the request, which gets the 503.
    assert text.startswith(
        (
            f"Barbican (key-manager) at {barbican} failed its API version discovery (503 ",
            f"Barbican (key-manager) at {barbican} answered 503 (503 ",
        )
    ), text
    assert (
        "503 Service Unavailable: how an OpenStack API answers while it cannot reach Keystone"
        in text
    )


def test_version_discovery_of_an_unreachable_service_names_it():
    # Arrange
    barbican = f"http://127.0.0.1:{closed_port()}"
    conn = connection(_keystone(), {"key-manager": barbican})
    error = _raised(lambda: list(conn.key_manager.secrets()))

    # Act
    text = describe_error(error, catalog.endpoints(conn))

    # Assert
    assert text.startswith(
        f"Barbican (key-manager) at {barbican} failed its API version discovery (it is "
        "unreachable, or has no version this client supports): "
    )


def test_inside_naming_the_connections_catalog_is_used_without_being_passed():
    # Arrange
    barbican = f"http://127.0.0.1:{closed_port()}"
    conn = connection(_keystone(), {"key-manager": barbican})
    error = _raised(lambda: conn.session.get(f"{barbican}/v1/secrets"))

    # Act
    with catalog.naming(conn):
        inside = describe_error(error)
    outside = describe_error(error)

    # Assert
    assert inside.startswith("Barbican (key-manager) at ")
    assert outside.startswith(f"{barbican} is unreachable (connection refused)")


def test_other_errors_are_told_as_before():
    # Arrange
    conflict = ConflictError("nova-flavor", "m1.xxlarge", ["ram: existing 2048, wanted 32768"])

    # Act / Assert
    assert describe_error(conflict) == (
        "nova-flavor 'm1.xxlarge' already exists and differs: ram: existing 2048, wanted 32768"
    )
    assert describe_error(ValueError("  two\n lines ")) == "two lines"
    assert describe_error(RuntimeError()) == "RuntimeError"


# -- bad values and secrets in messages ------------------------------------------------------


def test_shown_cuts_a_long_value_and_says_how_long_it_was():
    text = outcomes.shown("x" * 10_000)
    assert len(text) < 100
    assert "10000 characters" in text


@pytest.mark.parametrize(
    "form",
    [
        lambda s: s,
        lambda s: quote(s, safe=""),
        lambda s: quote(s),
        lambda s: quote_plus(s),
        lambda s: s.replace("$", "$$"),
    ],
    ids=["plain", "quoted", "quoted-keep-slash", "quote-plus", "oslo-dollars"],
)
def test_redact_masks_every_form_a_secret_takes_in_a_message(form):
    # Arrange
    secret = "p@ss w/rd$x%"
    text = f"OperationalError: mysql+pymysql://octavia:{form(secret)}@10.0.0.1/octavia"

    # Act
    redacted = outcomes.redact(text, [secret, ""])

    # Assert
    assert redacted == "OperationalError: mysql+pymysql://octavia:***@10.0.0.1/octavia"


def test_redact_leaves_text_without_secrets_alone():
    assert outcomes.redact("nothing to hide", ["", "secret"]) == "nothing to hide"
