#!/bin/bash
# run.sh: integration test driver: sources lib.sh and runs every tests/integration/t_*.sh.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD:-build}
CELLVM=$BUILD/cellvm
ELF=$BUILD/guest/probe.elf
BZ=$BUILD/guest/probe.bzImage
TMP=$(mktemp -d /tmp/cellvm-it.XXXXXX)
export BUILD CELLVM ELF BZ TMP
trap 'rm -rf "$TMP"' EXIT
. "$HERE/lib.sh"
for t in "$HERE"/t_*.sh; do
	echo "== $(basename "$t")"
	. "$t"
done
summary
