"""Opening a connection: bad values refused before openstacksdk is touched, and the HTTP
libraries' body logs kept out of every log."""

from __future__ import annotations

import logging

import pytest
from charmed_octavia.cloud import connection

CREDENTIALS = {
    "auth_url": "http://192.0.2.1:5000/v3",
    "username": "u",
    "password": "p",
    "project_name": "p",
    "user_domain_name": "d",
    "project_domain_name": "d",
    "region_name": "r",
}


def test_a_connection_keeps_request_bodies_out_of_debug_logs(monkeypatch):
    # Arrange: a root logger at DEBUG, as under ops (which forwards it to juju-log).
    for name in connection.HTTP_BODY_LOGGERS:
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)
    monkeypatch.setattr(logging.getLogger(), "level", logging.DEBUG)

    # Act: openstacksdk makes no request until the connection is used.
    connection.connect(**CREDENTIALS)

    # Assert
    for name in ("keystoneauth.session", "openstack", "urllib3.connectionpool"):
        assert not logging.getLogger(name).isEnabledFor(logging.DEBUG), name
    assert logging.getLogger("charmed_octavia").isEnabledFor(logging.DEBUG)


def test_missing_values_are_named():
    with pytest.raises(ValueError, match="missing password, region_name"):
        connection.connect(**{**CREDENTIALS, "password": "", "region_name": ""})
