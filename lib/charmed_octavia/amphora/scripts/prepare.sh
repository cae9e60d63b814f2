f=/etc/systemd/system.conf
changed=0
for key in DefaultTimeoutStartSec DefaultTimeoutStopSec; do
    if grep -Eq "^$key=infinity[[:space:]]*$" "$f"; then continue; fi
    if grep -Eq "^#?[[:space:]]*$key=" "$f"; then
        sed -i -E "s/^#?[[:space:]]*$key=.*/$key=infinity/" "$f" || exit 2
    else
        printf '%s=infinity\n' "$key" >> "$f" || exit 2
    fi
    changed=1
done
if [ "$changed" = 1 ]; then systemctl daemon-reload || exit 3; fi
echo "@@changed $changed"
