# shellcheck shell=sh
# sshd's ForceCommand for every session of the lab amphora, run by the login shell like any
# command: the fakes first on PATH, then the client's command. Not run as a file: its one
# command line is copied into sshd_config, so that a session starts no extra shell. sshd
# itself runs in a private mount namespace in which /etc/systemd is the amphora's own copy,
# so sessions need no namespace or mount of their own: on a real amphora neither exists.
PATH="__ROOT__/fakebin:$PATH"; export PATH; eval "${SSH_ORIGINAL_COMMAND:-exit 0}"
