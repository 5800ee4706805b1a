#include "runtime/io/Files.h"

#include <atomic>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sl::io {

namespace {
// Distinguishes the temporary files of concurrent writers in one process.
std::atomic<uint64_t> tempCounter{0};

// What a path that is no regular file is instead, for messages.
std::string notAFile(const struct stat &st) {
  return S_ISDIR(st.st_mode) ? ": is a directory, not a file" : ": not a regular file";
}
}  // namespace

Status checkRegularFile(const std::string &path, std::string_view what) {
  const std::string where = std::string(what) + " " + path;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    return Status::error(where + (err == ENOENT ? std::string(": no such file")
                                                : ": cannot be read (" +
                                                      std::string(std::strerror(err)) + ")"));
  }
  if (!S_ISREG(st.st_mode))
    return Status::error(where + notAFile(st));
  return Status::success();
}

StatusOr<std::vector<uint8_t>> readWholeFile(const std::string &path, std::string_view what) {
  const std::string where = std::string(what) + " " + path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Status::error(where + ": cannot be opened (" + std::strerror(errno) + ")");
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::error(where + ": cannot be read (" + std::strerror(err) + ")");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::error(where + notAFile(st));
  }
  std::vector<uint8_t> bytes(size_t(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t got = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0) {
      int err = got < 0 ? errno : 0;
      ::close(fd);
      return Status::error(where + ": cannot be read (" +
                           (err ? std::string(std::strerror(err))
                                : "the file shrank while it was read") +
                           ")");
    }
    done += size_t(got);
  }
  ::close(fd);
  return bytes;
}

Status writeFileAtomically(const std::string &path, const std::string &where,
                           std::initializer_list<ByteSpan> parts) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." +
                          std::to_string(tempCounter.fetch_add(1));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    return Status::error(where + ": cannot write (" + std::strerror(errno) + ")");
  int err = 0;
  for (const ByteSpan &part : parts) {
    const char *c = static_cast<const char *>(part.data);
    for (size_t left = part.size; left > 0 && !err;) {
      ssize_t n = ::write(fd, c, left);
      if (n < 0 && errno != EINTR)
        err = errno;
      else if (n > 0) {
        c += n;
        left -= size_t(n);
      }
    }
  }
  if (!err && ::fsync(fd) != 0)
    err = errno;
  if (::close(fd) != 0 && !err)
    err = errno;
  if (!err && ::rename(tmp.c_str(), path.c_str()) != 0)
    err = errno;
  if (err) {
    ::unlink(tmp.c_str());
    return Status::error(where + ": cannot write (" + std::strerror(err) + ")");
  }
  return Status::success();
}

}  // namespace sl::io
