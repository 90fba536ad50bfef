#!/bin/bash
# build-vmlinux.sh: builds the minimal L2 vmlinux (tinyconfig + config-fragment) from Debian's linux-source-6.1, cached.
# Prints the path of the cached vmlinux on stdout (the last line); progress goes to stderr.
# Env: CELLVM_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/cellvm), JOBS (default nproc).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${CELLVM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cellvm}
FRAG=$HERE/config-fragment
TARBALL=/usr/src/linux-source-6.1.tar.xz
log() { echo "build-vmlinux: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [ ! -r "$TARBALL" ]; then
	[ "$(id -u)" -eq 0 ] || die "$TARBALL missing; run as root: apt-get install -y linux-source-6.1"
	log "installing linux-source-6.1 (apt-get)"
	DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y --no-install-recommends \
		linux-source-6.1 >/dev/null || die "apt-get install linux-source-6.1 failed (registry unreachable?)"
fi
for t in make gcc bc flex bison; do command -v $t >/dev/null || die "'$t' missing (make deps installs it)"; done
SRCVER=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || stat -c %s "$TARBALL")
FRAGSUM=$(sha256sum "$FRAG" | cut -c1-16)
OUT=$CACHE/vmlinux-$SRCVER-$FRAGSUM
if [ -s "$OUT/vmlinux" ] && [ -s "$OUT/vmlinux.sha256" ] &&
	(cd "$OUT" && sha256sum --quiet -c vmlinux.sha256 2>/dev/null); then
	echo "$OUT/vmlinux"; exit 0
fi
[ -e "$OUT/vmlinux" ] && log "cached vmlinux in $OUT fails its checksum: corrupt cache, rebuilding"

SRC=$CACHE/linux-source-$SRCVER
if [ ! -f "$SRC/.extracted" ]; then
	log "extracting $TARBALL ($SRCVER) into $SRC (about 1 minute)"
	rm -rf "$SRC" "$SRC.tmp" && mkdir -p "$SRC.tmp"
	timeout 600 tar -xJf "$TARBALL" -C "$SRC.tmp" --strip-components=1 || die "extracting $TARBALL failed"
	touch "$SRC.tmp/.extracted" && mv "$SRC.tmp" "$SRC"
fi
OBJ=$OUT.obj
mkdir -p "$OBJ"
start=$(date +%s)
log "building vmlinux ($SRCVER, fragment $FRAGSUM) with -j${JOBS:-$(nproc)}: about 8 minutes on 2 cores"
{
	make -C "$SRC" O="$OBJ" ARCH=x86_64 tinyconfig
	KCONFIG_CONFIG="$OBJ/.config" "$SRC/scripts/kconfig/merge_config.sh" -m -O "$OBJ" "$OBJ/.config" "$FRAG"
	make -C "$SRC" O="$OBJ" ARCH=x86_64 olddefconfig
} >"$OBJ/config.log" 2>&1 || { tail -20 "$OBJ/config.log" >&2; die "configuring failed (log: $OBJ/config.log)"; }
# Every option the fragment asks for must have survived olddefconfig.
missing=$(grep -E '^CONFIG_' "$FRAG" | while read -r l; do grep -qxF "$l" "$OBJ/.config" || echo "$l"; done)
[ -z "$missing" ] || die "options dropped by kconfig (unmet dependencies): $(echo $missing)"
timeout 1800 make -C "$SRC" O="$OBJ" ARCH=x86_64 -j"${JOBS:-$(nproc)}" vmlinux >"$OBJ/build.log" 2>&1 ||
	{ tail -30 "$OBJ/build.log" >&2; die "kernel build failed (log: $OBJ/build.log)"; }
mkdir -p "$OUT"
cp "$OBJ/vmlinux" "$OUT/vmlinux.tmp" && mv "$OUT/vmlinux.tmp" "$OUT/vmlinux"
cp "$OBJ/.config" "$OUT/config"
(cd "$OUT" && sha256sum vmlinux >vmlinux.sha256)
log "built $OUT/vmlinux in $(($(date +%s) - start)) s"
echo "$OUT/vmlinux"
