#pragma once
// The virtio-i2c request framing (virtio 1.2 §5.19.6), internal to virtio/src: what one descriptor
// chain asks for, validated before anything reaches a bus. A pure function of the chain's two byte
// streams (hv/virtio/chain_io.hpp), whatever their split across descriptors: the readable stream is
// the 8-byte out header then the write buffer, the writable stream the read buffer then the 1-byte
// status, which is always its LAST byte. The device (i2c.cpp) and the fuzz target drive it.

#include <cstdint>

#include "hv/virtio/chain_io.hpp"

namespace hv::virtio::detail {

enum class I2cRequestShape : std::uint8_t {
  Valid,      // a message the bus may be given
  Malformed,  // status ERR, never reaches the bus
  NoStatus,   // no writable byte for the status: used with length 0, never reaches the bus
};

struct I2cRequest {
  I2cRequestShape shape = I2cRequestShape::Malformed;
  // The header's FAIL_NEXT bit: the next request belongs to the same group. Taken from any header that
  // could be read, valid or not (a malformed request still fails the rest of its group); false when
  // the header itself is missing or short, which ends the group.
  bool fail_next = false;
  std::uint8_t address = 0;  // 7-bit, at most dev::kI2cMaxAddress (Valid only)
  bool read = false;         // M_RD: the data goes to the driver (Valid only)
  std::uint32_t length = 0;  // data bytes, at most dev::kI2cMaxMessageBytes (Valid only); 0 is a probe
};

// Reads the chain's out header through `io` and checks the request: exactly one data direction (a
// read has no readable bytes after the header, a write exactly one writable byte, the status), a
// length within dev::kI2cMaxMessageBytes, an address with bit 0 clear and at most kI2cMaxAddress,
// no flag bits but FAIL_NEXT and M_RD. Padding is ignored.
I2cRequest parse_i2c_request(ChainIo& io);

}  // namespace hv::virtio::detail
