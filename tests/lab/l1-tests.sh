# l1-tests.sh: the L2 cases one L1 boot runs (sourced by l1-init); see l2case there and docs/testing.md.
for k in tiny cloud; do
	l2case "$k/boot" "$k" 0 "lab.test=boot lab.cpus=2 lab.mem=256" \
		'^L2-INIT: uptime' '^L2-RESULT: boot PASS'
	l2case "$k/poweroff" "$k" 0 "lab.test=poweroff" '^L2-RESULT: poweroff PASS'
	l2case "$k/reboot" "$k" 5 "lab.test=reboot" '^L2-RESULT: reboot PASS' 'log:guest requested a reboot'
	l2case "$k/panic" "$k" 5 "rdinit=/nonexistent init=/nonexistent" 'Kernel panic'
done
