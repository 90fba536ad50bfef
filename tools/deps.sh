#!/bin/sh
# deps.sh: installs the Debian packages cellvm builds and tests with (as root), or prints the apt-get line.
set -eu
PKGS="gcc make pkg-config libseccomp-dev libcap-ng-dev libfdt-dev libcriterion-dev \
qemu-system-x86 qemu-utils acpica-tools busybox-static cpio e2fsprogs libhttp-parser-dev libjson-c-dev \
python3-jsonschema python3-yaml liburing-dev fio socat iproute2 dpdk-dev \
kmod linux-source-6.1 bc flex bison libelf-dev libssl-dev xz-utils"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "cellvm: missing packages; run as root: apt-get install -y$missing" >&2
	exit 1
fi
echo "cellvm: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends $missing >/dev/null ||
	{ apt-get update >/dev/null && apt-get install -y --no-install-recommends $missing >/dev/null; }
