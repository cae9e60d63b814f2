#!/bin/sh
# Nagios plugin: how long a PEM certificate file stays valid.
# Usage: check_octavia_cert.sh CRIT_DAYS WARN_DAYS FILE
# Exit 0 OK, 1 WARNING (expires within WARN_DAYS), 2 CRITICAL (within CRIT_DAYS or expired),
# 3 UNKNOWN (bad arguments, unreadable file, no certificate in it).
set -u

if [ "$#" -ne 3 ]; then
    echo "UNKNOWN: usage: check_octavia_cert.sh CRIT_DAYS WARN_DAYS FILE"
    exit 3
fi
crit=$1
warn=$2
file=$3
for days in "$crit" "$warn"; do
    case "$days" in
        '' | *[!0-9]*)
            echo "UNKNOWN: days must be whole numbers, not '$days'"
            exit 3
            ;;
    esac
done

if ! end=$(openssl x509 -noout -enddate -in "$file" 2>/dev/null); then
    echo "UNKNOWN: no certificate readable in $file"
    exit 3
fi
end=${end#notAfter=}

# -checkend N fails when the certificate is no longer valid N seconds from now.
if ! openssl x509 -noout -checkend $((crit * 86400)) -in "$file" >/dev/null 2>&1; then
    echo "CRITICAL: $file expires within $crit day(s) ($end)"
    exit 2
fi
if ! openssl x509 -noout -checkend $((warn * 86400)) -in "$file" >/dev/null 2>&1; then
    echo "WARNING: $file expires within $warn day(s) ($end)"
    exit 1
fi
echo "OK: $file is valid until $end"
exit 0
