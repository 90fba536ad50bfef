# t_bad_input.sh: each kind of bad input gets one clear line and its documented exit status.
bad() { "$CELLVM" --memory size=64M "$@"; }
export -f bad

printf 'not a kernel at all, just text\n' >"$TMP/text.bin"
head -c 100 "$ELF" >"$TMP/truncated.elf"
python3 - "$BZ" "$TMP/corrupt.bzImage" <<'PY'
import sys
data = bytearray(open(sys.argv[1], 'rb').read())
data[0x202:0x206] = b'XXXX'  # break the "HdrS" magic
open(sys.argv[2], 'wb').write(data)
PY
head -c 1200 "$BZ" >"$TMP/truncated.bzImage"
head -c $((80 * 1024 * 1024)) /dev/zero >"$TMP/big.initrd"

expect bad-unknown-flag 2 "unknown option '--frobnicate'" bad --kernel "$ELF" --frobnicate
expect bad-no-kernel-flag 2 "no kernel given" bad
expect bad-missing-kernel 3 "/nonexistent/vmlinux: No such file or directory" bad --kernel /nonexistent/vmlinux
expect bad-kernel-is-dir 3 "kernel $TMP" bad --kernel "$TMP"
expect bad-text-kernel 3 "not an ELF64 x86-64 or bzImage" bad --kernel "$TMP/text.bin"
expect bad-truncated-elf 3 "truncated" bad --kernel "$TMP/truncated.elf"
expect bad-corrupt-bzimage 3 "not an ELF64 x86-64 or bzImage" bad --kernel "$TMP/corrupt.bzImage"
expect bad-truncated-bzimage 3 "truncated|too small|corrupt" bad --kernel "$TMP/truncated.bzImage"
expect bad-missing-initramfs 3 "/nonexistent/initrd: No such file or directory" bad --kernel "$ELF" --initramfs /nonexistent/initrd
expect bad-initramfs-too-big 3 "does not fit" bad --kernel "$ELF" --initramfs "$TMP/big.initrd"
expect bad-memory-zero 2 "size must not be 0" "$CELLVM" --kernel "$ELF" --memory size=0
expect bad-memory-garbage 2 "invalid size 'lots'" "$CELLVM" --kernel "$ELF" --memory size=lots
expect bad-memory-too-big 2 "larger than the host allows" "$CELLVM" --kernel "$ELF" --memory size=900G
expect bad-memory-option 2 "unknown or unsupported option 'frob'" "$CELLVM" --kernel "$ELF" --memory size=64M,frob=1
expect bad-cpus-zero 2 "boot=0 is out of range" bad --kernel "$ELF" --cpus boot=0
expect bad-cpus-too-many 2 "boot=300 is out of range" bad --kernel "$ELF" --cpus boot=300
expect bad-cpus-garbage 2 "invalid boot" bad --kernel "$ELF" --cpus boot=two
expect bad-serial 2 "--serial: expected" bad --kernel "$ELF" --serial pty
expect bad-serial-file-dir 2 "serial" bad --kernel "$ELF" --serial file=/nonexistent/dir/console
expect bad-log-file 2 "log-file" bad --kernel "$ELF" --log-file /nonexistent/dir/log
expect help-exits-0 0 "Usage: .*--kernel PATH" "$CELLVM" --help
expect version-exits-0 0 "^cellvm [0-9]" "$CELLVM" --version

# /dev/kvm missing: an empty /dev in a private mount namespace.
if unshare -m true 2>/dev/null; then
	expect no-kvm-missing 4 "/dev/kvm: No such file or directory" unshare -m sh -c \
		"mount -t tmpfs none /dev && exec \"$CELLVM\" --kernel \"$ELF\" --memory size=64M"
else
	skip no-kvm-missing "cannot create a mount namespace here"
fi
# /dev/kvm not permitted: run as an unprivileged user (needs root to switch).
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	cp "$CELLVM" "$TMP/cellvm-unpriv" && chmod 755 "$TMP" "$TMP/cellvm-unpriv"
	chmod 644 "$ELF" 2>/dev/null
	expect no-kvm-permission 4 "/dev/kvm: Permission denied" setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$TMP/cellvm-unpriv" --kernel "$(readlink -f "$ELF")" --memory size=64M
else
	skip no-kvm-permission "needs root to run cellvm as an unprivileged user"
fi
# Not regular files: a FIFO must not block start-up, a device must not be read forever.
mkfifo "$TMP/fifo"
expect bad-kernel-fifo 3 "not a regular file" bad --kernel "$TMP/fifo"
expect bad-initramfs-fifo 3 "initramfs .*: not a regular file" bad --kernel "$ELF" --initramfs "$TMP/fifo"
expect bad-initramfs-dev-zero 3 "initramfs /dev/zero: not a regular file" bad --kernel "$ELF" --initramfs /dev/zero
expect bad-kernel-dev-null 3 "kernel /dev/null: not a regular file" bad --kernel /dev/null
: >"$TMP/empty"
expect bad-kernel-empty 3 "kernel $TMP/empty" bad --kernel "$TMP/empty"
long=$(head -c 70000 /dev/zero | tr '\0' 'a')
expect bad-cmdline-too-long 3 "command line too long" bad --kernel "$ELF" --cmdline "$long"
# The kernel's vhost (vhost=on): a missing /dev/vhost-net or /dev/vhost-vsock is named, exit 2.
expect bad-vsock-vhost-socket 2 "vhost=on .* takes no socket=PATH" bad --kernel "$ELF" --vsock cid=5,vhost=on,socket="$TMP/v.sock"
expect bad-net-vhost-vhost-user 2 "vhost=on .* needs tap=NAME or fd=N" bad --kernel "$ELF" --net vhost_user=true,socket="$TMP/n.sock",vhost=on
if [ -e /dev/vhost-vsock ]; then
	skip vhost-vsock-missing "/dev/vhost-vsock exists on this host (tested in the nested lab)"
else
	expect vhost-vsock-missing 2 "cannot open /dev/vhost-vsock: No such file or directory" bad --kernel "$ELF" --vsock cid=5,vhost=on
fi
if [ -e /dev/vhost-net ]; then
	skip vhost-net-missing "/dev/vhost-net exists on this host (tested in the nested lab)"
elif [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ]; then
	skip vhost-net-missing "needs root and /dev/net/tun to open the tap first"
else
	expect vhost-net-missing 2 "cannot open /dev/vhost-net: No such file or directory" bad --kernel "$ELF" --net tap=cvkh$$,vhost=on
fi
