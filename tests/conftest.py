"""Test-wide set-up shared by every suite."""

import charmhelpers.osplatform

# charmhelpers 1.2.1 only knows Ubuntu and CentOS and raises at import on Debian; the
# charm runs on Ubuntu, so tests say so.
charmhelpers.osplatform.get_platform = lambda: "ubuntu"
