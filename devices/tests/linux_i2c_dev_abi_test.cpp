// The i2c-dev ABI hvkit speaks (devices/src/linux_i2c_dev.cpp, i2c_dev_numbers.hpp), checked against
// the values of the Linux uapi headers <linux/i2c-dev.h> and <linux/i2c.h>, written out here as
// literals: a header that differs, or an hvkit constant that drifts from it, fails this test.
#include <linux/i2c-dev.h>
#include <linux/i2c.h>

#include <cstddef>

#include <gtest/gtest.h>

#include "hv/dev/host_i2c_bus.hpp"
#include "hv/dev/i2c_bus.hpp"
#include "i2c_dev_numbers.hpp"

namespace {

namespace n = hv::dev::i2c_dev;

TEST(LinuxI2cDevAbi, IoctlNumbersAndLimits) {
  EXPECT_EQ(I2C_SLAVE, 0x0703);
  EXPECT_EQ(I2C_FUNCS, 0x0705);
  EXPECT_EQ(I2C_RDWR, 0x0707);
  EXPECT_EQ(I2C_SMBUS, 0x0720);
  EXPECT_EQ(I2C_RDWR_IOCTL_MAX_MSGS, 42);
  EXPECT_EQ(hv::dev::kI2cMaxTransactionMessages, 42U);
  EXPECT_EQ(hv::dev::kI2cMaxMessageBytes, 8192U);
  EXPECT_EQ(I2C_M_RD, 0x0001);
  EXPECT_EQ(I2C_SMBUS_BLOCK_MAX, 32);
  EXPECT_EQ(n::kSmbusBlockMax, 32U);
  EXPECT_EQ(n::kSmbusDataBytes, 34U);
}

TEST(LinuxI2cDevAbi, FunctionalityBits) {
  const std::pair<std::uint64_t, std::uint64_t> bits[] = {
      {I2C_FUNC_I2C, 0x00000001},
      {I2C_FUNC_SMBUS_QUICK, 0x00010000},
      {I2C_FUNC_SMBUS_READ_BYTE, 0x00020000},
      {I2C_FUNC_SMBUS_WRITE_BYTE, 0x00040000},
      {I2C_FUNC_SMBUS_READ_BYTE_DATA, 0x00080000},
      {I2C_FUNC_SMBUS_WRITE_BYTE_DATA, 0x00100000},
      {I2C_FUNC_SMBUS_READ_WORD_DATA, 0x00200000},
      {I2C_FUNC_SMBUS_WRITE_WORD_DATA, 0x00400000},
      {I2C_FUNC_SMBUS_READ_I2C_BLOCK, 0x04000000},
      {I2C_FUNC_SMBUS_WRITE_I2C_BLOCK, 0x08000000},
      // hvkit's copies
      {n::kFuncI2c, 0x00000001},
      {hv::dev::HostI2cBus::kFuncI2c, 0x00000001},
      {n::kFuncSmbusQuick, 0x00010000},
      {n::kFuncSmbusReadByte, 0x00020000},
      {n::kFuncSmbusWriteByte, 0x00040000},
      {n::kFuncSmbusReadByteData, 0x00080000},
      {n::kFuncSmbusWriteByteData, 0x00100000},
      {n::kFuncSmbusReadWordData, 0x00200000},
      {n::kFuncSmbusWriteWordData, 0x00400000},
      {n::kFuncSmbusReadI2cBlock, 0x04000000},
      {n::kFuncSmbusWriteI2cBlock, 0x08000000},
  };
  for (const auto& [value, expected] : bits) EXPECT_EQ(value, expected);
}

TEST(LinuxI2cDevAbi, SmbusTransferKinds) {
  EXPECT_EQ(I2C_SMBUS_READ, 1);
  EXPECT_EQ(I2C_SMBUS_WRITE, 0);
  EXPECT_EQ(I2C_SMBUS_QUICK, 0);
  EXPECT_EQ(I2C_SMBUS_BYTE, 1);
  EXPECT_EQ(I2C_SMBUS_BYTE_DATA, 2);
  EXPECT_EQ(I2C_SMBUS_WORD_DATA, 3);
  EXPECT_EQ(I2C_SMBUS_I2C_BLOCK_DATA, 8);
  EXPECT_EQ(n::kSmbusRead, 1);
  EXPECT_EQ(n::kSmbusWrite, 0);
  EXPECT_EQ(n::kSmbusQuick, 0U);
  EXPECT_EQ(n::kSmbusByte, 1U);
  EXPECT_EQ(n::kSmbusByteData, 2U);
  EXPECT_EQ(n::kSmbusWordData, 3U);
  EXPECT_EQ(n::kSmbusI2cBlockData, 8U);
}

TEST(LinuxI2cDevAbi, StructLayoutsOnX8664) {
  EXPECT_EQ(sizeof(i2c_msg), 16U);
  EXPECT_EQ(offsetof(i2c_msg, addr), 0U);
  EXPECT_EQ(offsetof(i2c_msg, flags), 2U);
  EXPECT_EQ(offsetof(i2c_msg, len), 4U);
  EXPECT_EQ(offsetof(i2c_msg, buf), 8U);
  EXPECT_EQ(sizeof(i2c_rdwr_ioctl_data), 16U);
  EXPECT_EQ(offsetof(i2c_rdwr_ioctl_data, msgs), 0U);
  EXPECT_EQ(offsetof(i2c_rdwr_ioctl_data, nmsgs), 8U);
  EXPECT_EQ(sizeof(i2c_smbus_data), 34U);
  EXPECT_EQ(sizeof(i2c_smbus_ioctl_data), 16U);
  EXPECT_EQ(offsetof(i2c_smbus_ioctl_data, read_write), 0U);
  EXPECT_EQ(offsetof(i2c_smbus_ioctl_data, command), 1U);
  EXPECT_EQ(offsetof(i2c_smbus_ioctl_data, size), 4U);
  EXPECT_EQ(offsetof(i2c_smbus_ioctl_data, data), 8U);
}

TEST(LinuxI2cDevAbi, OpeningAMissingBusIsAnError) {
  // /dev/i2c-1023 does not exist on this host (no i2c-dev adapters); where it might, skip.
  auto port = hv::dev::open_i2c_dev(1023);
  if (port) GTEST_SKIP() << "this host has /dev/i2c-1023";
  EXPECT_EQ(port.error().sys_errno(), ENOENT) << port.error().to_string();
}

}  // namespace
