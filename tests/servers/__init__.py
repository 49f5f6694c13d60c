"""Real servers (Dovecot) that tests start privately on free loopback ports."""
