#!/bin/sh
# FakeKernelLog: the lab amphora shares the host's kernel, whose log holds the OOM reports of
# every memory cgroup; a real amphora (a VM) has its own kernel and log. This runs the real
# __TOOL__ and keeps only the OOM reports whose oom_memcg or task_memcg is the amphora's
# cgroup (or below it); other lines pass unchanged. One OOM report is printed under the
# kernel's oom_lock, from "invoked oom-killer" to "Killed process": reports of different
# cgroups never interleave. The real tool's exit status is this one's.
# shellcheck disable=SC2016 # the single-quoted text is an awk program
rc=$( { { __REAL__ "$@"; echo $? >&4; } | __AWK__ -v memcg="__MEMCG__" '
function flush() { if (keep) printf "%s", block; block = ""; inblock = 0; keep = 0 }
/ invoked oom-killer: / { if (inblock) flush(); inblock = 1 }
inblock {
    block = block $0 "\n"
    if (index($0, "oom-kill:constraint=")) {
        for (i = 1; i <= 2; i++) {
            field = (i == 1 ? "oom_memcg=" : "task_memcg=") memcg
            if (index($0, field ",") || index($0, field "/")) keep = 1
        }
    }
    if (index($0, "Killed process ")) flush()
    next
}
# Pieces of a report whose start is before --since: which cgroup they are from is unknown.
/Killed process |oom-kill:|\[ *pid *\] +uid +tgid|\[ *[0-9]+\]( +-?[0-9]+)+ +[^ ]+$/ { next }
{ print }
END { flush() }
' >&3; } 4>&1 ) 3>&1
exit "${rc:-1}"
