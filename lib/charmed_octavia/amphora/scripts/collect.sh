# SINCE: "YYYY-MM-DD HH:MM:SS" in UTC (the readers are told TZ=UTC), or empty for the boot.
since=$1
dir=$2
echo "@@section oom"
journal=
for f in /run/log/journal/*/*.journal /var/log/journal/*/*.journal; do
    if [ -e "$f" ]; then journal=1; break; fi
done
if [ -n "$journal" ] && command -v journalctl >/dev/null 2>&1; then
    echo "@@source journalctl"
    if [ -n "$since" ]; then TZ=UTC journalctl -k --no-pager -q -o short-iso --since "$since"
    else journalctl -k -b --no-pager -q -o short-iso; fi
else
    echo "@@source dmesg"
    if [ -n "$since" ]; then TZ=UTC dmesg --time-format iso --since "$since"
    else dmesg --time-format iso; fi
fi
echo "@@rc $?"
# Octavia's layout: <dir>/<load balancer id>/haproxy.cfg (a glob is sorted).
set --
nodir=
if [ -d "$dir" ]; then
    for f in "$dir"/*/haproxy.cfg; do
        if [ -f "$f" ]; then set -- "$@" "$f"; fi
    done
else
    nodir=1
fi
# One awk for the rest, its operands read in order (phase=... are assignments between them):
# the haproxy pids on stdin, each process's /proc/PID/status as ps would show it (pid, ppid,
# user, vsz, rss, name; pidof and one awk cost a third of ps, which loads many libraries
# and reads every process's stat, status, cmdline and environ), MemTotal/MemAvailable, then
# per haproxy process (and this shell) its memory cgroup and effective limit (v1
# hierarchical_memory_limit, v2 the lowest memory.max up the tree), then every haproxy.cfg.
# /proc files are read with getline: a process gone since pidof is skipped, not an error.
# Without pidof the haproxy processes cannot be listed: say so rather than list none.
nopidof=
command -v pidof >/dev/null 2>&1 || nopidof=1
pidof haproxy 2>/dev/null | awk -v self="$$" -v nodir="$nodir" -v nopidof="$nopidof" '
function memcg(pid,   file, line, f) {
    file = "/proc/" pid "/cgroup"
    while ((getline line < file) > 0) {
        split(line, f, ":")
        if (f[2] ~ /(^|,)memory(,|$)/) v1[pid] = f[3]
        else if (f[1] == "0") v2[pid] = substr(line, 4)
    }
    close(file)
}
function user(uid,   line, f) {
    if (!passwd_read) {
        while ((getline line < "/etc/passwd") > 0) {
            split(line, f, ":")
            if (!(f[3] in users)) users[f[3]] = f[1]
        }
        close("/etc/passwd")
        passwd_read = 1
    }
    return (uid in users) ? users[uid] : uid
}
function process(pid,   file, line, k, name, ppid, uid, vsz, rss) {
    file = "/proc/" pid "/status"
    vsz = 0
    rss = 0
    while ((getline line < file) > 0) {
        split(line, k, /[ \t]+/)
        if (k[1] == "Name:") name = k[2]
        else if (k[1] == "PPid:") ppid = k[2]
        else if (k[1] == "Uid:") uid = k[3]
        else if (k[1] == "VmSize:") vsz = k[2]
        else if (k[1] == "VmRSS:") rss = k[2]
    }
    close(file)
    if (name == "") return
    print pid, ppid, user(uid), vsz, rss, name
    memcg(pid)
}
function meminfo_header() {
    if (!meminfo_shown) print "@@section meminfo"
    meminfo_shown = 1
}
function configs_header() {
    if (configs_shown) return
    meminfo_header()
    limits()
    print "@@section configs"
    if (nodir != "") print "@@nodir"
    configs_shown = 1
}
function limits(   pid, limit, file, line, kv, p, v) {
    print "@@section cgroup"
    for (pid in v1) {
        limit = "max"
        file = "/sys/fs/cgroup/memory" v1[pid] "/memory.stat"
        while ((getline line < file) > 0) {
            split(line, kv, " ")
            if (kv[1] == "hierarchical_memory_limit") limit = kv[2]
        }
        close(file)
        print pid, limit, v1[pid]
    }
    for (pid in v2) {
        if (pid in v1) continue
        limit = "max"
        p = v2[pid]
        while (p != "") {
            file = "/sys/fs/cgroup" p "/memory.max"
            if ((getline v < file) > 0 && v != "max" && (limit == "max" || v + 0 < limit + 0))
                limit = v
            close(file)
            if (p == "/") break
            sub(/\/[^\/]*$/, "", p)
            if (p == "") p = "/"
        }
        print pid, limit, v2[pid]
    }
}
BEGIN { print "@@section ps"; if (nopidof != "") print "@@nopidof"; memcg(self) }
phase == "ps" {
    # In pid order, as ps lists them (pidof lists the newest first).
    n = 0
    for (i = 1; i <= NF; i++) {
        if ($i !~ /^[0-9]+$/) continue
        for (j = n; j > 0 && pids[j] + 0 > $i + 0; j--) pids[j + 1] = pids[j]
        pids[j + 1] = $i
        n++
    }
    for (i = 1; i <= n; i++) process(pids[i])
    next
}
phase == "meminfo" { meminfo_header(); print; next }
{
    configs_header()
    if (FNR == 1) print "@@file " FILENAME
    print
}
END { configs_header() }
' phase=ps - phase=meminfo /proc/meminfo phase=configs "$@"
echo "@@end"
