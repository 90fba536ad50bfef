# t_probe_net_qemu.sh: the probe's virtio-net driver against QEMU's own virtio-net-pci (q35,
# TCG) on a tap, with net_peer.py on the host end checking every frame byte for byte. Passing
# here makes the probe a valid driver for the same tests on cellvm. QEMU exit v -> (v<<1)|1.
. "$(dirname "${BASH_SOURCE[0]}")/net_lib.sh"

# qemu_net TAP QUEUES PEER_MODE APPEND
qemu_net() {
	net_with_peer "$1" "$2" "$3" qemu-system-x86_64 -M q35 -accel tcg -nodefaults -no-user-config -nographic \
		-serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 -m 128M -kernel "$ELF" -append "$4" \
		-netdev "tap,id=n0,ifname=$1,script=no,downscript=no,vhost=off,queues=$2" \
		-device "virtio-net-pci,netdev=n0,mac=$NET_GUEST_MAC,disable-legacy=on,mq=on"
}
export -f qemu_net

if ! command -v qemu-system-x86_64 >/dev/null; then
	skip qemu-probe-net "qemu-system-x86_64 is not installed"
elif net_can_run qemu-probe-net; then
	expect qemu-net-tx 1 "test net-tx: PASS" qemu_net cvq0 1 tx "test=net-tx"
	expect qemu-net-tx-peer 0 "peer: tx: OK" cat "$TMP/cvq0.peer"
	expect qemu-net-rx 1 "test net-rx: PASS" qemu_net cvq1 1 rx "test=net-rx"
	expect qemu-net-rx-peer 0 "peer: rx: OK" cat "$TMP/cvq1.peer"
	expect qemu-net-mq 1 "test net-mq: PASS" qemu_net cvq2 2 mq "test=net-mq"
	expect qemu-net-mq-peer 0 "peer: mq: OK" cat "$TMP/cvq2.peer"
	expect qemu-net-ctrl-bad 1 "test net-ctrl-bad: PASS" qemu_net cvq3 2 none "test=net-ctrl-bad"
	expect qemu-net-ctrl-ring-loop 1 "test net-ctrl-ring-bad: PASS" qemu_net cvq5 2 none "test=net-ctrl-ring-bad bad=loop"
	# without mq=on the device has no control queue: net-mq must say so and fail
	expect qemu-net-mq-not-offered 3 "FAIL: VIRTIO_NET_F_CTRL_VQ and VIRTIO_NET_F_MQ not both offered" \
		net_with_peer cvq4 1 none qemu-system-x86_64 -M q35 -accel tcg -nodefaults -no-user-config -nographic \
		-serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 -m 128M -kernel "$ELF" -append test=net-mq \
		-netdev tap,id=n0,ifname=cvq4,script=no,downscript=no,vhost=off \
		-device "virtio-net-pci,netdev=n0,mac=$NET_GUEST_MAC,disable-legacy=on,ctrl_vq=off"
fi
