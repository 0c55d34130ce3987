// The host's i2c-dev interface (Documentation/i2c/dev-interface.rst): the one file in hvkit that
// includes the kernel's I2C headers and issues the I2C ioctls. Everything else reaches the kernel
// through I2cDevPort (hv/dev/host_i2c_bus.hpp).
//
// Soundness of what follows, once: the structs are the kernel's own (from the uapi headers), so
// their layout is the one the kernel reads; the assertions below pin that layout and every number to
// the x86-64 ABI values, so a different header fails the build. No cast is needed anywhere: the
// message buffers are the caller's byte spans (__u8*), and the SMBus union is copied in and out with
// memcpy over its bytes, never read through a member.

#include <fcntl.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

#include "hv/dev/host_i2c_bus.hpp"
#include "hv/unique_fd.hpp"
#include "i2c_dev_numbers.hpp"

namespace hv::dev {

namespace {

// The ioctl numbers (<linux/i2c-dev.h>): plain numbers, not _IO() encodings.
static_assert(I2C_SLAVE == 0x0703 && I2C_FUNCS == 0x0705 && I2C_RDWR == 0x0707 && I2C_SMBUS == 0x0720);
static_assert(I2C_RDWR_IOCTL_MAX_MSGS == kI2cMaxTransactionMessages);
static_assert(I2C_M_RD == 0x0001);
// The message length is a __u16; i2c-dev refuses more than 8192 bytes.
static_assert(kI2cMaxMessageBytes == 8192 && kI2cMaxMessageBytes <= 0xffff);

// hvkit's copies of the numbers host_i2c_bus.cpp uses.
static_assert(i2c_dev::kFuncI2c == I2C_FUNC_I2C && HostI2cBus::kFuncI2c == I2C_FUNC_I2C);
static_assert(i2c_dev::kFuncSmbusQuick == I2C_FUNC_SMBUS_QUICK);
static_assert(i2c_dev::kFuncSmbusReadByte == I2C_FUNC_SMBUS_READ_BYTE);
static_assert(i2c_dev::kFuncSmbusWriteByte == I2C_FUNC_SMBUS_WRITE_BYTE);
static_assert(i2c_dev::kFuncSmbusReadByteData == I2C_FUNC_SMBUS_READ_BYTE_DATA);
static_assert(i2c_dev::kFuncSmbusWriteByteData == I2C_FUNC_SMBUS_WRITE_BYTE_DATA);
static_assert(i2c_dev::kFuncSmbusReadWordData == I2C_FUNC_SMBUS_READ_WORD_DATA);
static_assert(i2c_dev::kFuncSmbusWriteWordData == I2C_FUNC_SMBUS_WRITE_WORD_DATA);
static_assert(i2c_dev::kFuncSmbusReadI2cBlock == I2C_FUNC_SMBUS_READ_I2C_BLOCK);
static_assert(i2c_dev::kFuncSmbusWriteI2cBlock == I2C_FUNC_SMBUS_WRITE_I2C_BLOCK);
static_assert(i2c_dev::kSmbusRead == I2C_SMBUS_READ && i2c_dev::kSmbusWrite == I2C_SMBUS_WRITE);
static_assert(i2c_dev::kSmbusQuick == I2C_SMBUS_QUICK && i2c_dev::kSmbusByte == I2C_SMBUS_BYTE);
static_assert(i2c_dev::kSmbusByteData == I2C_SMBUS_BYTE_DATA && i2c_dev::kSmbusWordData == I2C_SMBUS_WORD_DATA);
static_assert(i2c_dev::kSmbusI2cBlockData == I2C_SMBUS_I2C_BLOCK_DATA);
static_assert(i2c_dev::kSmbusBlockMax == I2C_SMBUS_BLOCK_MAX);

// The layouts (x86-64): what the kernel copies from user space.
static_assert(sizeof(i2c_msg) == 16 && offsetof(i2c_msg, addr) == 0 && offsetof(i2c_msg, flags) == 2 &&
              offsetof(i2c_msg, len) == 4 && offsetof(i2c_msg, buf) == 8);
static_assert(sizeof(i2c_rdwr_ioctl_data) == 16 && offsetof(i2c_rdwr_ioctl_data, msgs) == 0 &&
              offsetof(i2c_rdwr_ioctl_data, nmsgs) == 8);
static_assert(sizeof(i2c_smbus_data) == i2c_dev::kSmbusDataBytes && sizeof(i2c_smbus_data) == 34);
static_assert(sizeof(i2c_smbus_ioctl_data) == 16 && offsetof(i2c_smbus_ioctl_data, read_write) == 0 &&
              offsetof(i2c_smbus_ioctl_data, command) == 1 && offsetof(i2c_smbus_ioctl_data, size) == 4 &&
              offsetof(i2c_smbus_ioctl_data, data) == 8);

// NOLINTBEGIN(cppcoreguidelines-pro-type-vararg): open(2) and ioctl(2) are variadic in C; each call
// passes exactly the argument its request documents (a pointer to the struct above, or I2C_SLAVE's
// address as an unsigned long).
int open_device(const std::string& path) { return ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOCTTY); }
int ioctl_pointer(int fd, unsigned long request, void* argument) { return ::ioctl(fd, request, argument); }
int ioctl_value(int fd, unsigned long request, unsigned long argument) { return ::ioctl(fd, request, argument); }
// NOLINTEND(cppcoreguidelines-pro-type-vararg)

class LinuxI2cDev final : public I2cDevPort {
 public:
  LinuxI2cDev(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}

  Result<std::uint64_t> functionality() override {
    unsigned long functions = 0;  // I2C_FUNCS writes an unsigned long
    if (ioctl_pointer(fd_.get(), I2C_FUNCS, &functions) != 0) return fail_errno("I2C_FUNCS " + path_, errno);
    return std::uint64_t{functions};
  }

  Result<void> read_write(std::span<const I2cMessage> messages) override {
    if (messages.empty() || messages.size() > kI2cMaxTransactionMessages) {
      return fail(ErrorKind::InvalidArgument, "I2C_RDWR " + path_, "1 to 42 messages per transaction");
    }
    std::array<i2c_msg, kI2cMaxTransactionMessages> msgs{};
    for (std::size_t i = 0; i < messages.size(); ++i) {
      const I2cMessage& m = messages[i];
      if (m.address > kI2cMaxAddress || m.data.size() > kI2cMaxMessageBytes) {
        return fail(ErrorKind::InvalidArgument, "I2C_RDWR " + path_, "a message out of range");
      }
      msgs.at(i).addr = m.address;
      msgs.at(i).flags = m.read ? I2C_M_RD : 0;
      msgs.at(i).len = static_cast<__u16>(m.data.size());
      // The kernel reads (a write) or fills (a read) exactly len bytes here; the span holds them.
      msgs.at(i).buf = m.data.data();
    }
    i2c_rdwr_ioctl_data request{};
    request.msgs = msgs.data();
    request.nmsgs = static_cast<__u32>(messages.size());
    // Not retried on EINTR: part of the transaction may have reached the wire.
    const int done = ioctl_pointer(fd_.get(), I2C_RDWR, &request);
    if (done < 0) return fail_errno("I2C_RDWR " + path_, errno);
    if (static_cast<std::size_t>(done) != messages.size()) {
      return fail(
          ErrorKind::SystemError, "I2C_RDWR " + path_,
          "the adapter executed " + std::to_string(done) + " of " + std::to_string(messages.size()) + " messages");
    }
    return {};
  }

  Result<void> set_target(std::uint8_t address) override {
    if (ioctl_value(fd_.get(), I2C_SLAVE, address) != 0) return fail_errno("I2C_SLAVE " + path_, errno);
    return {};
  }

  Result<void> smbus(std::uint8_t read_write, std::uint8_t command, std::uint32_t size,
                     std::span<std::uint8_t, 34> data) override {
    i2c_smbus_data bytes{};
    static_assert(sizeof(bytes) == data.size());
    std::memcpy(&bytes, data.data(), sizeof(bytes));
    i2c_smbus_ioctl_data request{};
    request.read_write = read_write;
    request.command = command;
    request.size = size;
    request.data = &bytes;  // at most 34 bytes read or written by the kernel: the union's size
    if (ioctl_pointer(fd_.get(), I2C_SMBUS, &request) != 0) return fail_errno("I2C_SMBUS " + path_, errno);
    std::memcpy(data.data(), &bytes, sizeof(bytes));
    return {};
  }

 private:
  UniqueFd fd_;
  std::string path_;
};

}  // namespace

Result<std::unique_ptr<I2cDevPort>> open_i2c_dev(unsigned bus) {
  std::string path = "/dev/i2c-" + std::to_string(bus);
  UniqueFd fd(open_device(path));
  if (!fd) return fail_errno("open " + path, errno);
  return std::unique_ptr<I2cDevPort>(std::make_unique<LinuxI2cDev>(std::move(fd), std::move(path)));
}

}  // namespace hv::dev
