#!/usr/bin/env bash
# Installs Debian's prometheus for the dashboard end-to-end test (tests/test_prometheus_e2e.py).
# The test starts its own prometheus on loopback with a throw-away TSDB; the packaged
# service is not used, so it is kept from starting (containers have no systemd anyway).
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
if ! command -v prometheus >/dev/null 2>&1; then
    apt-get update -qq
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get install -y -qq --no-install-recommends prometheus
fi
prometheus --version 2>&1 | head -1
