#pragma once
// The i2c-dev numbers the host bus's translation uses (host_i2c_bus.cpp), as hvkit constants: that file
// speaks to the kernel through I2cDevPort only and does not include the kernel's headers. The one file
// that does (linux_i2c_dev.cpp) static-asserts each of these against the kernel's macro, and
// linux_i2c_dev_abi_test.cpp checks them against the values of the uapi headers <linux/i2c.h> and
// <linux/i2c-dev.h>.

#include <cstddef>
#include <cstdint>

namespace hv::dev::i2c_dev {

// I2C_FUNCS bits (<linux/i2c.h>).
inline constexpr std::uint64_t kFuncI2c = 0x00000001;                 // I2C_FUNC_I2C
inline constexpr std::uint64_t kFuncSmbusQuick = 0x00010000;          // I2C_FUNC_SMBUS_QUICK
inline constexpr std::uint64_t kFuncSmbusReadByte = 0x00020000;       // I2C_FUNC_SMBUS_READ_BYTE
inline constexpr std::uint64_t kFuncSmbusWriteByte = 0x00040000;      // I2C_FUNC_SMBUS_WRITE_BYTE
inline constexpr std::uint64_t kFuncSmbusReadByteData = 0x00080000;   // I2C_FUNC_SMBUS_READ_BYTE_DATA
inline constexpr std::uint64_t kFuncSmbusWriteByteData = 0x00100000;  // I2C_FUNC_SMBUS_WRITE_BYTE_DATA
inline constexpr std::uint64_t kFuncSmbusReadWordData = 0x00200000;   // I2C_FUNC_SMBUS_READ_WORD_DATA
inline constexpr std::uint64_t kFuncSmbusWriteWordData = 0x00400000;  // I2C_FUNC_SMBUS_WRITE_WORD_DATA
inline constexpr std::uint64_t kFuncSmbusReadI2cBlock = 0x04000000;   // I2C_FUNC_SMBUS_READ_I2C_BLOCK
inline constexpr std::uint64_t kFuncSmbusWriteI2cBlock = 0x08000000;  // I2C_FUNC_SMBUS_WRITE_I2C_BLOCK
// Every SMBus function the translation can use: an adapter with none of them (and no I2C_FUNC_I2C)
// can execute nothing.
inline constexpr std::uint64_t kFuncSmbusUsed =
    kFuncSmbusQuick | kFuncSmbusReadByte | kFuncSmbusWriteByte | kFuncSmbusReadByteData | kFuncSmbusWriteByteData |
    kFuncSmbusReadWordData | kFuncSmbusWriteWordData | kFuncSmbusReadI2cBlock | kFuncSmbusWriteI2cBlock;

// struct i2c_smbus_ioctl_data's read_write (I2C_SMBUS_READ / I2C_SMBUS_WRITE).
inline constexpr std::uint8_t kSmbusRead = 1;
inline constexpr std::uint8_t kSmbusWrite = 0;
// Its size: the transfer kind (I2C_SMBUS_*).
inline constexpr std::uint32_t kSmbusQuick = 0;
inline constexpr std::uint32_t kSmbusByte = 1;
inline constexpr std::uint32_t kSmbusByteData = 2;
inline constexpr std::uint32_t kSmbusWordData = 3;
inline constexpr std::uint32_t kSmbusI2cBlockData = 8;
// I2C_SMBUS_BLOCK_MAX, and the size of union i2c_smbus_data (block[0] is the length, plus one byte
// "for user-space compatibility").
inline constexpr std::size_t kSmbusBlockMax = 32;
inline constexpr std::size_t kSmbusDataBytes = kSmbusBlockMax + 2;

}  // namespace hv::dev::i2c_dev
