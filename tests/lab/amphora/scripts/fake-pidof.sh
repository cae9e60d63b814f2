#!/bin/sh
# FakePidof: a real amphora (a VM) sees its own processes only; the lab amphora shares this
# host's process table with other labs' haproxy. This runs the real pidof and keeps the pids
# in the amphora's memory cgroup (or below it), by each pid's /proc/PID/cgroup: the v1 memory
# controller's path, else the v2 path. Exit status 1 when none is left, as pidof's.
# shellcheck disable=SC2016 # the single-quoted text is an awk program
__REAL__ "$@" | __AWK__ -v memcg="__MEMCG__" '
{
    out = ""
    for (i = 1; i <= NF; i++) {
        file = "/proc/" $i "/cgroup"
        v1 = ""
        v2 = ""
        while ((getline line < file) > 0) {
            split(line, f, ":")
            if (f[2] ~ /(^|,)memory(,|$)/) { v1 = f[3]; break }
            if (f[1] == "0" && v2 == "") v2 = f[3]
        }
        close(file)
        cg = (v1 != "" ? v1 : v2)
        if (cg == memcg || index(cg, memcg "/") == 1) out = out (out == "" ? "" : " ") $i
    }
    if (out != "") { print out; found = 1 }
}
END { exit !found }'
