# virtio_blk_flood: 256 requests of ~128 MiB each from one notification, then a reset, then exit
# (see virtio_blk_flood.inc; run by run_virtio_blk_flood.sh from vmm/tests/CMakeLists.txt).
  .set RESET, 1
  .include "virtio_blk_flood.inc"
