#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages the lab and the tests run for real.
set -euo pipefail
# The lab (MariaDB, RabbitMQ, OVN's northbound and southbound ovsdb-server and ovn-northd with
# ovsdb-tool, its chassis' ovs-vswitchd and ovn-controller, haproxy, sshd, apache2 with mod_wsgi
# for the charm's API site),
# the charm builder's build packages and python3-apt (charmcraft's apt backend), patch (the lab
# amphora's fixed templater: Octavia with the LP #2119987 patch applied).
pkgs=(python3 python3-venv python3-dev python3-pip python3-setuptools python3-wheel python3-apt
      gcc git mariadb-server rabbitmq-server haproxy openssh-server openssh-client apache2
      libapache2-mod-wsgi-py3 ovn-central openvswitch-common
      openvswitch-switch ovn-host libffi-dev libssl-dev libyaml-dev pkg-config unzip patch)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing packages (run as root to install them): ${missing[*]}" >&2
        exit 1
    fi
    # Package scripts must not start system-wide services: the lab starts its own on 127.0.0.1.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
