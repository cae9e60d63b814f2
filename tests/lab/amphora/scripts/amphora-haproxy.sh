#!/bin/sh
# haproxy as the amphora runs it: in the amphora's memory cgroup with the unit's open-files
# limit; the master (start) also in its own network namespace holding the VIPs, as the
# amphora's "amphora-haproxy" namespace does. Usage: amphora-haproxy check ARGS... |
# amphora-haproxy start VIP[,VIP...] ARGS...
echo $$ > "__CGROUP__/cgroup.procs" || exit 90
# shellcheck disable=SC3045 # /bin/sh is dash here, whose ulimit has -n and -H
ulimit -n "$(ulimit -Hn)" || exit 91
mode=$1; shift
if [ "$mode" = check ]; then exec __HAPROXY__ -c -q "$@"; fi
[ "$mode" = start ] || { echo "amphora-haproxy: unknown mode $mode" >&2; exit 2; }
vips=$1; shift
# shellcheck disable=SC2016 # the inner shell expands $0 and $@, not this one
exec /usr/bin/unshare --net /bin/sh -c '
ip link set lo up || exit 92
for vip in $(echo "$0" | tr , " "); do ip addr add "$vip" dev lo || exit 93; done
exec "$@"' "$vips" __HAPROXY__ "$@"
