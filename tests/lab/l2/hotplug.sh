# hotplug.sh: L2 test: a virtio-blk disk added to the running VM (vm.add-disk) and removed (vm.remove-device).
# Linux finds it through ACPI PCI hotplug (acpiphp: GPE, Notify device check on the slot, a bus rescan), uses it
# with blk.sh's raw checks (seed data, a 2 MiB write, the last sector; L1 checks the image afterwards), then
# gives it back on the eject request (Notify 3, driver unbind, _EJ0) and must see it gone.
fail() { echo "L2-RESULT: hotplug FAIL $*"; exit 1; }
. /lab/tests/lib.sh
[ ! -e /sys/block/vda ] || fail "a disk is there before the hotplug"
before=$(ls /sys/bus/pci/devices | wc -l)
echo "L2-HOTPLUG: ready for add-disk ($before PCI functions)"
wait_for present /dev/vda || fail "no /dev/vda 60 s after asking (PCI functions: $(ls /sys/bus/pci/devices | tr '\n' ' '))"
fn=$(readlink -f /sys/block/vda/device/.. 2>/dev/null)  # the virtio device's PCI function
fn=${fn##*/}
echo "L2-HOTPLUG: vda arrived on PCI function $fn ($(ls /sys/bus/pci/devices | wc -l) PCI functions)"
LAB_TEST=blk sh /lab/tests/blk.sh >/tmp/blk.out 2>&1
sed 's/^L2-RESULT: blk /L2-HOTPLUG: blk /' /tmp/blk.out
grep -q '^L2-RESULT: blk PASS' /tmp/blk.out || fail "the hotplugged disk failed blk.sh's checks"
sync
echo "L2-HOTPLUG: ready for remove-device"
wait_for absent /sys/block/vda || fail "/sys/block/vda still there 60 s after asking for its removal"
# The block device goes first, the PCI function once its driver let go and _EJ0 ran.
[ -z "$fn" ] || wait_for absent "/sys/bus/pci/devices/$fn" 10 || fail "PCI function $fn still there after the removal"
[ "$(ls /sys/bus/pci/devices | wc -l)" = "$before" ] || fail "PCI functions after the removal: $(ls /sys/bus/pci/devices | tr '\n' ' ')"
echo "L2-RESULT: hotplug PASS added, used and removed again"
