#!/usr/bin/env bash
# Installs what the tests' private Dovecot needs on a fresh Debian/Ubuntu machine (run as root).
# The tests start their own dovecot (tests/servers/dovecot.py); the system service is not
# used, so a machine without systemd is fine: we only stop the packaged one if it started.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
if ! command -v /usr/sbin/dovecot >/dev/null 2>&1; then
    apt-get update -qq
    # policy-rc.d keeps the package from starting the system dovecot in containers
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get install -y -qq --no-install-recommends dovecot-imapd
fi

# dovenull (login processes) and dovecot (internal) come with dovecot-core;
# trawlermail owns the test maildirs (mail processes never run as root).
id dovenull >/dev/null
id dovecot >/dev/null
if ! id trawlermail >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin trawlermail
fi
/usr/sbin/dovecot --version
