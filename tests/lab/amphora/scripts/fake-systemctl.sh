#!/bin/sh
# FakeSystemctl: the lab host has no systemd as PID 1; a real amphora's systemctl reloads
# systemd. This fake records each daemon-reload so tests can see that it happened.
if [ "$1" = daemon-reload ] && [ "$#" -eq 1 ]; then
    date '+%s daemon-reload' >> "__ROOT__/systemctl.log"
    exit 0
fi
echo "FakeSystemctl: only 'daemon-reload' is supported, got: $*" >&2
exit 1
