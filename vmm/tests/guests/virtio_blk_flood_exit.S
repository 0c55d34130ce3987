# virtio_blk_flood_exit: as virtio_blk_flood, but the guest exits without resetting the device: the
# machine's stop (hvctl tearing it down) must end the device's work (see virtio_blk_flood.inc).
  .set RESET, 0
  .include "virtio_blk_flood.inc"
