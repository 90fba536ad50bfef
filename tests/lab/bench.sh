# bench.sh: the lab bench (tests/lab/run --bench): boot-to-init of each L2 kernel, cellvm and QEMU microvm alternating.
N=${LAB_BENCH_RUNS:-5}
for k in tiny cloud; do
	i=1
	while [ "$i" -le "$N" ]; do
		l2case "$k/bench-cellvm-$i" "$k" 0 "quiet lab.test=poweroff" '^L2-RESULT: poweroff PASS'
		qemucase "$k/bench-qemu-$i" "$k" 0 "quiet lab.test=poweroff" '^L2-RESULT: poweroff PASS'
		i=$((i + 1))
	done
done
