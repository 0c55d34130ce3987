#include "hv/dev/i2c_eeprom.hpp"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <iterator>
#include <numeric>

#include <gtest/gtest.h>

#include "i2c_test_support.hpp"

namespace {

using hv::dev::I2cEeprom;
using hv::dev::I2cMessage;
using i2ctest::read_from;
using i2ctest::write_to;
using Bytes = std::vector<std::uint8_t>;

constexpr std::uint8_t kAddress = 0x50;

std::shared_ptr<I2cEeprom> memory_eeprom() {
  auto eeprom = I2cEeprom::create(kAddress);
  EXPECT_TRUE(eeprom.has_value());
  return *eeprom;
}

std::size_t run(I2cEeprom& eeprom, std::initializer_list<I2cMessage> messages) {
  const std::vector<I2cMessage> list(messages);
  return eeprom.transfer(list);
}

Bytes file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

TEST(I2cEeprom, StartsErasedAndRefusesAnAddressAbove0x77) {
  const auto eeprom = memory_eeprom();
  for (const std::uint8_t byte : eeprom->contents()) EXPECT_EQ(byte, 0xff);
  EXPECT_EQ(eeprom->pointer(), 0);
  EXPECT_TRUE(eeprom->serves(kAddress));
  EXPECT_FALSE(eeprom->serves(kAddress + 1));
  const auto refused = I2cEeprom::create(0x78);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().kind(), hv::ErrorKind::InvalidArgument);
}

TEST(I2cEeprom, AWriteSetsThePointerAndStoresTheRestSequentially) {
  const auto eeprom = memory_eeprom();
  Bytes write{0x10, 0xa1, 0xa2, 0xa3};
  EXPECT_EQ(run(*eeprom, {write_to(kAddress, write)}), 1U);
  const auto contents = eeprom->contents();
  EXPECT_EQ(contents[0x0f], 0xff);
  EXPECT_EQ(contents[0x10], 0xa1);
  EXPECT_EQ(contents[0x11], 0xa2);
  EXPECT_EQ(contents[0x12], 0xa3);
  EXPECT_EQ(contents[0x13], 0xff);
  EXPECT_EQ(eeprom->pointer(), 0x13);
  // Set the pointer, repeated START, read: the usual random read.
  Bytes pointer{0x11};
  Bytes read(3);
  EXPECT_EQ(run(*eeprom, {write_to(kAddress, pointer), read_from(kAddress, read)}), 2U);
  EXPECT_EQ(read, (Bytes{0xa2, 0xa3, 0xff}));
  EXPECT_EQ(eeprom->pointer(), 0x14);
}

TEST(I2cEeprom, AOneByteWriteOnlySetsThePointer) {
  const auto eeprom = memory_eeprom();
  Bytes pointer{0x42};
  EXPECT_EQ(run(*eeprom, {write_to(kAddress, pointer)}), 1U);
  EXPECT_EQ(eeprom->pointer(), 0x42);
  for (const std::uint8_t byte : eeprom->contents()) EXPECT_EQ(byte, 0xff);
}

TEST(I2cEeprom, WritesAndReadsWrapAt256) {
  const auto eeprom = memory_eeprom();
  Bytes write{0xfe, 1, 2, 3, 4};
  EXPECT_EQ(run(*eeprom, {write_to(kAddress, write)}), 1U);
  auto contents = eeprom->contents();
  EXPECT_EQ(contents[0xfe], 1);
  EXPECT_EQ(contents[0xff], 2);
  EXPECT_EQ(contents[0x00], 3);
  EXPECT_EQ(contents[0x01], 4);
  EXPECT_EQ(eeprom->pointer(), 0x02);
  Bytes from{0xff};
  Bytes read(259);  // past the end and once round
  EXPECT_EQ(run(*eeprom, {write_to(kAddress, from), read_from(kAddress, read)}), 2U);
  EXPECT_EQ(read[0], 2);
  EXPECT_EQ(read[1], 3);
  EXPECT_EQ(read[2], 4);
  EXPECT_EQ(read[3], 0xff);
  EXPECT_EQ(read[256], 2) << "the 257th byte is the first again";
  EXPECT_EQ(eeprom->pointer(), 0x02);
}

TEST(I2cEeprom, AZeroLengthMessageIsAProbeThatSucceeds) {
  const auto eeprom = memory_eeprom();
  Bytes none;
  EXPECT_EQ(run(*eeprom, {write_to(kAddress, none)}), 1U);
  EXPECT_EQ(run(*eeprom, {read_from(kAddress, none)}), 1U);
  EXPECT_EQ(eeprom->pointer(), 0);
}

TEST(I2cEeprom, AMessageToAnotherAddressFailsThereAndStopsTheTransaction) {
  const auto eeprom = memory_eeprom();
  Bytes first{0x00, 0x11};
  Bytes other{0x05, 0x22};
  Bytes last{0x08, 0x33};
  EXPECT_EQ(run(*eeprom, {write_to(kAddress, first), write_to(0x51, other), write_to(kAddress, last)}), 1U);
  const auto contents = eeprom->contents();
  EXPECT_EQ(contents[0x00], 0x11);
  EXPECT_EQ(contents[0x05], 0xff);
  EXPECT_EQ(contents[0x08], 0xff) << "nothing after the failure is executed";
}

TEST(I2cEeprom, AMessageLongerThanTheLimitFails) {
  const auto eeprom = memory_eeprom();
  Bytes huge(hv::dev::kI2cMaxMessageBytes + 1, 0x00);
  EXPECT_EQ(run(*eeprom, {write_to(kAddress, huge)}), 0U);
  for (const std::uint8_t byte : eeprom->contents()) EXPECT_EQ(byte, 0xff);
}

TEST(I2cEeprom, AtMost42MessagesAreExecuted) {
  const auto eeprom = memory_eeprom();
  std::vector<Bytes> buffers(hv::dev::kI2cMaxTransactionMessages + 1);
  std::vector<I2cMessage> messages;
  for (std::size_t i = 0; i < buffers.size(); ++i) {
    buffers[i] = {static_cast<std::uint8_t>(i), 0x00};
    messages.push_back(write_to(kAddress, buffers[i]));
  }
  EXPECT_EQ(eeprom->transfer(messages), hv::dev::kI2cMaxTransactionMessages);
  EXPECT_EQ(eeprom->contents()[41], 0x00);
  EXPECT_EQ(eeprom->contents()[42], 0xff) << "the 43rd message is not executed";
}

TEST(I2cEepromFile, AMissingFileIsCreatedErased) {
  const i2ctest::ScratchDir dir;
  const std::string path = dir.file("eeprom.bin");
  auto eeprom = I2cEeprom::open(kAddress, path);
  ASSERT_TRUE(eeprom.has_value()) << eeprom.error().to_string();
  EXPECT_EQ(file_bytes(path), Bytes(256, 0xff));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
}

TEST(I2cEepromFile, ContentsAreLoadedFromTheFile) {
  const i2ctest::ScratchDir dir;
  const std::string path = dir.file("eeprom.bin");
  Bytes image(256);
  std::iota(image.begin(), image.end(), std::uint8_t{0});
  write_file(path, image);
  auto eeprom = I2cEeprom::open(kAddress, path);
  ASSERT_TRUE(eeprom.has_value()) << eeprom.error().to_string();
  const auto contents = (*eeprom)->contents();
  EXPECT_TRUE(std::equal(contents.begin(), contents.end(), image.begin()));
}

TEST(I2cEepromFile, EveryChangingTransactionWritesTheFileAndReadsLeaveItAlone) {
  const i2ctest::ScratchDir dir;
  const std::string path = dir.file("eeprom.bin");
  auto opened = I2cEeprom::open(kAddress, path);
  ASSERT_TRUE(opened.has_value()) << opened.error().to_string();
  I2cEeprom& eeprom = **opened;
  Bytes expected(256, 0xff);
  Bytes write{0xfe, 0x01, 0x02, 0x03};
  ASSERT_EQ(run(eeprom, {write_to(kAddress, write)}), 1U);
  expected[0xfe] = 0x01;
  expected[0xff] = 0x02;
  expected[0x00] = 0x03;
  EXPECT_EQ(file_bytes(path), expected);
  Bytes second{0x80, 0x5a};
  Bytes third{0x81, 0xa5};
  ASSERT_EQ(run(eeprom, {write_to(kAddress, second), write_to(kAddress, third)}), 2U);
  expected[0x80] = 0x5a;
  expected[0x81] = 0xa5;
  EXPECT_EQ(file_bytes(path), expected);

  // Reads, pointer-only writes and probes change nothing: the file is not written (a marker placed
  // behind the EEPROM's back stays).
  Bytes marked = expected;
  marked[0x10] = 0x77;
  write_file(path, marked);
  Bytes pointer{0x00};
  Bytes read(16);
  Bytes none;
  Bytes same{0x80, 0x5a};  // rewrites the byte it already has
  ASSERT_EQ(run(eeprom, {write_to(kAddress, pointer), read_from(kAddress, read), write_to(kAddress, none),
                         write_to(kAddress, same)}),
            4U);
  EXPECT_EQ(file_bytes(path), marked);
}

TEST(I2cEepromFile, TheWrittenContentsSurviveReopening) {
  const i2ctest::ScratchDir dir;
  const std::string path = dir.file("eeprom.bin");
  {
    auto eeprom = I2cEeprom::open(kAddress, path);
    ASSERT_TRUE(eeprom.has_value());
    Bytes write{0x20, 0xde, 0xad};
    ASSERT_EQ(run(**eeprom, {write_to(kAddress, write)}), 1U);
  }
  auto again = I2cEeprom::open(kAddress, path);
  ASSERT_TRUE(again.has_value()) << again.error().to_string();
  EXPECT_EQ((*again)->contents()[0x20], 0xde);
  EXPECT_EQ((*again)->contents()[0x21], 0xad);
}

TEST(I2cEepromFile, AFileOfAnotherSizeIsRefused) {
  const i2ctest::ScratchDir dir;
  for (const std::size_t size : {std::size_t{0}, std::size_t{255}, std::size_t{257}, std::size_t{512}}) {
    const std::string path = dir.file("size" + std::to_string(size));
    write_file(path, Bytes(size, 0x00));
    auto eeprom = I2cEeprom::open(kAddress, path);
    ASSERT_FALSE(eeprom.has_value()) << size;
    EXPECT_EQ(eeprom.error().kind(), hv::ErrorKind::InvalidArgument) << size;
    EXPECT_NE(eeprom.error().message().find("exactly 256"), std::string_view::npos) << eeprom.error().to_string();
    EXPECT_EQ(file_bytes(path).size(), size) << "the file is left as it was";
  }
}

TEST(I2cEepromFile, ADirectoryOrAFifoIsRefused) {
  const i2ctest::ScratchDir dir;
  const std::string fifo = dir.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& path : {dir.file(""), fifo}) {
    auto eeprom = I2cEeprom::open(kAddress, path);
    ASSERT_FALSE(eeprom.has_value()) << path;
    EXPECT_EQ(eeprom.error().kind(), hv::ErrorKind::InvalidArgument) << path;
    EXPECT_NE(eeprom.error().message().find("not a regular file"), std::string_view::npos)
        << eeprom.error().to_string();
  }
}

TEST(I2cEepromFile, ASecondOpenOfTheSameFileIsBusy) {
  const i2ctest::ScratchDir dir;
  const std::string path = dir.file("eeprom.bin");
  auto first = I2cEeprom::open(kAddress, path);
  ASSERT_TRUE(first.has_value());
  auto second = I2cEeprom::open(0x51, path);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().kind(), hv::ErrorKind::Busy) << second.error().to_string();
  first->reset();  // the lock goes with the descriptor
  auto third = I2cEeprom::open(0x51, path);
  EXPECT_TRUE(third.has_value()) << third.error().to_string();
}

// A write-back that fails, provoked honestly: RLIMIT_FSIZE below the image's size makes the kernel
// take a short write and then refuse the rest (EFBIG), as a full disk would.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    EXPECT_EQ(::getrlimit(RLIMIT_FSIZE, &saved_), 0);
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;  // else SIGXFSZ ends the process
    EXPECT_EQ(::sigaction(SIGXFSZ, &ignore, &saved_action_), 0);
    rlimit limited = saved_;
    limited.rlim_cur = bytes;
    EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &limited), 0);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    ::sigaction(SIGXFSZ, &saved_action_, nullptr);
  }

 private:
  rlimit saved_{};
  struct sigaction saved_action_ {};
};

TEST(I2cEepromFile, AFailedWriteBackFailsTheMessageThatChangedTheContents) {
  const i2ctest::ScratchDir dir;
  const std::string path = dir.file("eeprom.bin");
  auto opened = I2cEeprom::open(kAddress, path);
  ASSERT_TRUE(opened.has_value());
  I2cEeprom& eeprom = **opened;
  Bytes pointer{0x30};
  Bytes read(1);
  Bytes write{0xf0, 0x12, 0x34};  // beyond the limit: the write-back's tail is refused
  Bytes after{0x40};
  std::size_t done = 0;
  {
    const FileSizeLimit limit(100);
    done = run(eeprom, {write_to(kAddress, pointer), read_from(kAddress, read), write_to(kAddress, write),
                        write_to(kAddress, after)});
  }
  EXPECT_EQ(done, 2U) << "the pointer write and the read succeeded; the changing write did not";
  EXPECT_EQ(eeprom.contents()[0xf0], 0xff) << "memory holds what the guest was told";
  EXPECT_EQ(eeprom.contents()[0xf1], 0xff);
  EXPECT_EQ(eeprom.pointer(), 0x31) << "as the last successful message left it";
  // Without the limit the same write succeeds and reaches the file.
  ASSERT_EQ(run(eeprom, {write_to(kAddress, write)}), 1U);
  const Bytes file = file_bytes(path);
  ASSERT_EQ(file.size(), 256U);
  EXPECT_EQ(file[0xf0], 0x12);
  EXPECT_EQ(file[0xf1], 0x34);
}

}  // namespace
