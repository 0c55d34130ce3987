# virtio_i2c_ring4: virtio_i2c.S with a 4-entry queue (QMAX 4, as QEMU's vhost-user-i2c over
# virtio-pci would allow): the same scenario, so the batches of 4 fill the whole ring and the ring
# indices wrap every 4 requests.
  .set QMAX, 4
  .include "virtio_i2c.S"
