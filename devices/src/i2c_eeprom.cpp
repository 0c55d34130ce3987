#include "hv/dev/i2c_eeprom.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace hv::dev {

namespace {

constexpr const char* kOp = "I2C EEPROM";

// NOLINTBEGIN(cppcoreguidelines-pro-type-vararg): open(2) and fcntl(2) are variadic in C.
int open_file(const std::string& path, int flags) { return ::open(path.c_str(), flags, 0600); }
int ofd_lock(int fd, struct flock& lock) { return ::fcntl(fd, F_OFD_SETLK, &lock); }
// NOLINTEND(cppcoreguidelines-pro-type-vararg)

bool full_pwrite(int fd, std::span<const std::uint8_t> data) {
  off_t offset = 0;
  while (!data.empty()) {
    const ssize_t n = ::pwrite(fd, data.data(), data.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data = data.subspan(static_cast<std::size_t>(n));
    offset += n;
  }
  return true;
}

bool full_pread(int fd, std::span<std::uint8_t> data) {
  off_t offset = 0;
  while (!data.empty()) {
    const ssize_t n = ::pread(fd, data.data(), data.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data = data.subspan(static_cast<std::size_t>(n));
    offset += n;
  }
  return true;
}

// Opens an existing backing file for I/O: its type is checked first on a path descriptor (opening a
// FIFO would wait for a writer, opening a device runs its driver), then the descriptor opened for I/O
// must be that same regular file (O_NONBLOCK: a FIFO swapped in meanwhile does not make it wait).
Result<UniqueFd> open_existing(const std::string& path, const UniqueFd& where) {
  struct stat before {};
  if (::fstat(where.get(), &before) != 0) return fail_errno("fstat " + path, errno);
  if (!S_ISREG(before.st_mode)) return fail(ErrorKind::InvalidArgument, kOp, path + " is not a regular file");
  UniqueFd file(open_file(path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!file) return fail_errno("open " + path, errno);
  struct stat st {};
  if (::fstat(file.get(), &st) != 0) return fail_errno("fstat " + path, errno);
  if (!S_ISREG(st.st_mode) || st.st_dev != before.st_dev || st.st_ino != before.st_ino) {
    return fail(ErrorKind::InvalidArgument, kOp, path + " changed while it was opened");
  }
  return file;
}

}  // namespace

Result<std::shared_ptr<I2cEeprom>> I2cEeprom::create(std::uint8_t address) {
  if (address > kI2cMaxAddress) {
    return fail(ErrorKind::InvalidArgument, kOp, "address " + hex(address) + " is above 0x77");
  }
  std::shared_ptr<I2cEeprom> eeprom(new I2cEeprom(address));
  eeprom->bytes_.fill(0xff);
  return eeprom;
}

Result<std::shared_ptr<I2cEeprom>> I2cEeprom::open(std::uint8_t address, const std::string& path) {
  auto eeprom = create(address);
  if (!eeprom) return eeprom;
  UniqueFd file;
  bool created = false;
  const UniqueFd where(open_file(path, O_PATH | O_CLOEXEC));
  if (where) {
    auto opened = open_existing(path, where);
    if (!opened) return tl::unexpected(opened.error());
    file = std::move(*opened);
  } else if (errno == ENOENT) {
    // O_EXCL: if someone creates it meanwhile, this fails rather than adopting their file unchecked.
    file.reset(open_file(path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_CREAT | O_EXCL));
    if (!file) return fail_errno("create " + path, errno);
    created = true;
  } else {
    return fail_errno("open " + path, errno);
  }
  // One user per EEPROM image: an open-file-description lock, so two EEPROMs in this process conflict
  // as two processes do. It goes with the descriptor.
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  lock.l_start = 0;
  lock.l_len = 0;  // the whole file
  if (ofd_lock(file.get(), lock) != 0) {
    if (errno == EAGAIN || errno == EACCES) {
      return fail(ErrorKind::Busy, kOp,
                  path + " is in use: another EEPROM, in this process or another, holds a lock on it");
    }
    return fail_errno("lock " + path, errno);
  }
  auto& self = **eeprom;
  if (created) {
    if (!full_pwrite(file.get(), self.bytes_)) return fail_errno("write " + path, errno == 0 ? EIO : errno);
  } else {
    // The size is checked under the lock: nobody who respects it can change it after this.
    struct stat st {};
    if (::fstat(file.get(), &st) != 0) return fail_errno("fstat " + path, errno);
    if (st.st_size != static_cast<off_t>(kSize)) {
      return fail(ErrorKind::InvalidArgument, kOp,
                  path + " has " + std::to_string(st.st_size) + " bytes; an EEPROM image has exactly 256");
    }
    if (!full_pread(file.get(), self.bytes_)) return fail_errno("read " + path, errno == 0 ? EIO : errno);
  }
  self.file_.emplace(std::move(file));
  return eeprom;
}

std::size_t I2cEeprom::transfer(std::span<const I2cMessage> messages) {
  std::lock_guard lock(mutex_);
  const std::array<std::uint8_t, kSize> before = bytes_;
  std::optional<std::size_t> first_change;  // the first message that changed the contents
  std::uint8_t pointer_before_change = 0;
  const std::size_t bound = std::min(messages.size(), kI2cMaxTransactionMessages);
  std::size_t done = 0;
  for (; done < bound; ++done) {
    const I2cMessage& m = messages[done];
    if (!serves(m.address) || m.data.size() > kI2cMaxMessageBytes) break;
    if (m.data.empty()) continue;  // a probe: the EEPROM acknowledges its address
    if (m.read) {
      for (std::uint8_t& byte : m.data) byte = bytes_.at(pointer_++);  // std::uint8_t: wraps at 256
      continue;
    }
    const std::uint8_t pointer_at_start = pointer_;
    pointer_ = m.data.front();
    bool changed = false;
    for (const std::uint8_t byte : m.data.subspan(1)) {
      changed |= bytes_.at(pointer_) != byte;
      bytes_.at(pointer_++) = byte;
    }
    if (changed && !first_change) {
      first_change = done;
      pointer_before_change = pointer_at_start;
    }
  }
  if (first_change && file_ && !full_pwrite(file_->get(), bytes_)) {
    // The guest must not see a write succeed that would not survive the process: the message that
    // first changed the contents fails, and the memory goes back to what it was before it (what the
    // file held). The file itself may now hold part of the new bytes: a torn write, as on a real part.
    bytes_ = before;
    pointer_ = pointer_before_change;
    return *first_change;
  }
  return done;
}

std::array<std::uint8_t, I2cEeprom::kSize> I2cEeprom::contents() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

std::uint8_t I2cEeprom::pointer() const {
  std::lock_guard lock(mutex_);
  return pointer_;
}

}  // namespace hv::dev
