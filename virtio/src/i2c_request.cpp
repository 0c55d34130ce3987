#include "i2c_request.hpp"

#include <array>

#include "hv/dev/i2c_bus.hpp"
#include "hv/virtio/i2c.hpp"

namespace hv::virtio::detail {

namespace {

constexpr std::uint64_t kOutHeaderBytes = 8;  // le16 addr, le16 padding, le32 flags
constexpr std::uint64_t kStatusBytes = 1;
constexpr std::uint32_t kKnownFlags = kI2cFlagFailNext | kI2cFlagRead;

}  // namespace

I2cRequest parse_i2c_request(ChainIo& io) {
  I2cRequest request;
  std::array<std::uint8_t, kOutHeaderBytes> header{};
  if (io.readable() < kOutHeaderBytes || !io.read(0, header)) {
    request.shape = io.writable() < kStatusBytes ? I2cRequestShape::NoStatus : I2cRequestShape::Malformed;
    return request;
  }
  // Little-endian fields, assembled byte by byte (no host byte order, no alignment assumed).
  const auto addr = static_cast<std::uint16_t>(header[0] | (header[1] << 8U));
  const std::uint32_t flags = header[4] | (header[5] << 8U) | (header[6] << 16U) | (std::uint32_t{header[7]} << 24U);
  request.fail_next = (flags & kI2cFlagFailNext) != 0;
  if (io.writable() < kStatusBytes) {
    request.shape = I2cRequestShape::NoStatus;
    return request;
  }
  request.shape = I2cRequestShape::Malformed;
  if ((flags & ~kKnownFlags) != 0) return request;
  if ((addr & 1U) != 0 || (addr >> 1U) > dev::kI2cMaxAddress) return request;
  const bool read = (flags & kI2cFlagRead) != 0;
  // The data is in the direction M_RD says, and only there: a buffer the other way is malformed.
  if (read ? io.readable() != kOutHeaderBytes : io.writable() != kStatusBytes) return request;
  const std::uint64_t length = read ? io.writable() - kStatusBytes : io.readable() - kOutHeaderBytes;
  if (length > dev::kI2cMaxMessageBytes) return request;
  request.shape = I2cRequestShape::Valid;
  request.address = static_cast<std::uint8_t>(addr >> 1U);
  request.read = read;
  request.length = static_cast<std::uint32_t>(length);
  return request;
}

}  // namespace hv::virtio::detail
