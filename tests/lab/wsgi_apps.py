"""WSGI entry points of the lab's API servers, loaded by gunicorn inside the lab venv.

``LAB_APP`` names the service and ``LAB_APP_CONFIG`` its config file. The servers parse
``sys.argv`` through oslo.config, where gunicorn's own arguments would be rejected, so argv is
replaced with what each service expects before its application is built.
"""

# pyright: reportMissingImports=false
# (runs in the lab venv, where these servers are installed)

from __future__ import annotations

import os
import sys


def _build():
    name = os.environ["LAB_APP"]
    config = os.environ["LAB_APP_CONFIG"]
    if name == "keystone":
        sys.argv = ["keystone"]
        os.environ["OS_KEYSTONE_CONFIG_FILES"] = config
        from keystone.server.wsgi import initialize_public_application

        return initialize_public_application()
    if name == "barbican":
        # Barbican reads barbican.conf from the default locations (HOME/.barbican/).
        sys.argv = ["barbican-api"]
        from paste import deploy

        return deploy.loadapp("config:" + os.environ["LAB_APP_PASTE"])
    if name == "nova-api":
        sys.argv = ["nova-api"]
        os.environ["OS_NOVA_CONFIG_DIR"] = os.path.dirname(config)
        from nova.api.openstack.compute.wsgi import init_application

        return init_application()
    if name == "glance-api":
        # Glance reads glance-api.conf and its paste file from OS_GLANCE_CONFIG_DIR.
        sys.argv = ["glance-api"]
        os.environ["OS_GLANCE_CONFIG_DIR"] = os.path.dirname(config)
        from glance.common.wsgi_app import init_app

        return init_app()
    if name == "placement-api":
        # Placement reads placement.conf from OS_PLACEMENT_CONFIG_DIR.
        sys.argv = ["placement-api"]
        os.environ["OS_PLACEMENT_CONFIG_DIR"] = os.path.dirname(config)
        from placement.wsgi import init_application as init_placement

        return init_placement()
    if name == "octavia-api":
        extra = os.environ.get("LAB_APP_EXTRA_CONFIG")
        argv = ["octavia-api", "--config-file", config]
        if extra:
            argv += ["--config-file", extra]
        sys.argv = argv
        from octavia.api.app import setup_app

        return setup_app(argv=argv)
    raise SystemExit(f"unknown LAB_APP {name!r}")


application = _build()
