# blk-ro.sh: L2 test: the read-only virtio-blk disk (cellvm --disk ...,readonly=on); see blk.sh.
. /lab/tests/blk.sh
