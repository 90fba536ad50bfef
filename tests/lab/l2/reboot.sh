# reboot.sh: L2 test: reboots (reboot -f); cellvm must exit 5 and log that the guest requested a reboot.
echo "L2-RESULT: reboot PASS rebooting"
reboot -f
sleep 10
echo "L2-RESULT: reboot FAIL still running 10 s after reboot -f"
