#include "runtime/io/Npy.h"

#include "runtime/io/Files.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sl::io {

namespace {

const char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

struct DTypeInfo {
  NpyDType dtype;
  const char *descr;
  size_t size;
};

const DTypeInfo kDTypes[] = {
    {NpyDType::I32, "<i4", 4}, {NpyDType::I64, "<i8", 8}, {NpyDType::F32, "<f4", 4},
    {NpyDType::F16, "<f2", 2}, {NpyDType::F64, "<f8", 8}, {NpyDType::U16, "<u2", 2},
    {NpyDType::U8, "|u1", 1},
};

std::string supportedList() {
  std::string s;
  for (const auto &d : kDTypes)
    s += (s.empty() ? "" : ", ") + std::string(d.descr);
  return s;
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1)
    s += ",";
  return s + ")";
}

// Number of elements, or -1 on a negative dim or overflow.
int64_t checkedNumel(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0)
      return -1;
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
      return -1;
    n *= d;
  }
  return n;
}

// A value of the header's Python dict literal.
struct PyValue {
  enum Kind { String, Bool, Tuple, Other } kind = Other;
  std::string str;
  bool boolean = false;
  std::vector<int64_t> ints;
};

// Parses the dict literal numpy writes: {'descr': '<f4', 'fortran_order': False, 'shape': (2,)}.
class HeaderParser {
public:
  explicit HeaderParser(const std::string &text) : s_(text) {}

  // On failure returns false and sets error().
  bool parse(std::map<std::string, PyValue> &out) {
    skipWs();
    if (!consume('{'))
      return fail("header does not start with '{'");
    while (true) {
      skipWs();
      if (consume('}'))
        break;
      std::string key;
      if (!parseString(key))
        return fail("expected a quoted key in the header dict");
      skipWs();
      if (!consume(':'))
        return fail("expected ':' after key '" + key + "'");
      skipWs();
      PyValue value;
      if (!parseValue(value))
        return false;
      out[key] = std::move(value);
      skipWs();
      if (consume(','))
        continue;
      if (consume('}'))
        break;
      return fail("expected ',' or '}' in the header dict");
    }
    skipWs();
    if (pos_ != s_.size())
      return fail("unexpected text after the header dict");
    return true;
  }
  const std::string &error() const { return error_; }

private:
  bool fail(std::string message) {
    if (error_.empty())
      error_ = std::move(message);
    return false;
  }
  void skipWs() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' ||
                                s_[pos_] == '\r'))
      ++pos_;
  }
  bool consume(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool parseString(std::string &out) {
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"'))
      return false;
    char quote = s_[pos_++];
    size_t end = s_.find(quote, pos_);
    if (end == std::string::npos)
      return false;
    out = s_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return true;
  }
  bool parseInt(int64_t &out) {
    size_t start = pos_;
    uint64_t v = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      uint64_t digit = uint64_t(s_[pos_] - '0');
      if (v > (uint64_t(std::numeric_limits<int64_t>::max()) - digit) / 10)
        return fail("shape dimension too large");
      v = v * 10 + digit;
      ++pos_;
    }
    if (pos_ == start)
      return fail("expected a non-negative integer in the shape");
    if (pos_ < s_.size() && (s_[pos_] == 'L' || s_[pos_] == 'l'))  // Python 2 longs
      ++pos_;
    out = int64_t(v);
    return true;
  }
  bool parseValue(PyValue &v) {
    if (pos_ < s_.size() && (s_[pos_] == '\'' || s_[pos_] == '"')) {
      v.kind = PyValue::String;
      if (!parseString(v.str))
        return fail("unterminated string in the header");
      return true;
    }
    if (s_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      v.kind = PyValue::Bool;
      v.boolean = true;
      return true;
    }
    if (s_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      v.kind = PyValue::Bool;
      v.boolean = false;
      return true;
    }
    if (consume('(')) {
      v.kind = PyValue::Tuple;
      while (true) {
        skipWs();
        if (consume(')'))
          return true;
        int64_t d;
        if (!parseInt(d))
          return false;
        v.ints.push_back(d);
        skipWs();
        if (consume(','))
          continue;
        if (consume(')'))
          return true;
        return fail("expected ',' or ')' in the shape tuple");
      }
    }
    // Anything else (a structured dtype's list, ...): skip a balanced value.
    v.kind = PyValue::Other;
    int depth = 0;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '\'' || c == '"') {
        std::string ignored;
        if (!parseString(ignored))
          return fail("unterminated string in the header");
        continue;
      }
      if (c == '(' || c == '[' || c == '{')
        ++depth;
      else if (c == ')' || c == ']' || c == '}') {
        if (depth == 0)
          return true;
        --depth;
      } else if (c == ',' && depth == 0)
        return true;
      ++pos_;
    }
    return fail("unterminated value in the header");
  }

  const std::string &s_;
  size_t pos_ = 0;
  std::string error_;
};

Status readWholeFile(const std::string &path, std::vector<uint8_t> &bytes) {
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f)
    return Status::error("npy file " + path + ": cannot be opened (" + std::strerror(errno) +
                         ")");
  struct stat st;
  if (::fstat(::fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    std::fclose(f);
    return Status::error("npy file " + path + ": not a regular file");
  }
  bytes.resize(size_t(st.st_size));
  size_t got = bytes.empty() ? 0 : std::fread(bytes.data(), 1, bytes.size(), f);
  bool err = std::ferror(f);
  std::fclose(f);
  if (err || got != bytes.size())
    return Status::error("npy file " + path + ": read error");
  return Status::success();
}

}  // namespace

const char *npyDTypeDescr(NpyDType dtype) {
  for (const auto &d : kDTypes)
    if (d.dtype == dtype)
      return d.descr;
  return "?";
}

size_t npyDTypeSize(NpyDType dtype) {
  for (const auto &d : kDTypes)
    if (d.dtype == dtype)
      return d.size;
  return 0;
}

int64_t NpyArray::numel() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

StatusOr<NpyArray> readNpy(const std::string &path) {
  std::vector<uint8_t> bytes;
  if (Status s = readWholeFile(path, bytes); !s.ok())
    return s;
  return parseNpy(bytes, path);
}

StatusOr<NpyArray> parseNpy(const std::vector<uint8_t> &bytes, const std::string &path) {
  const std::string where = "npy file " + path;
  if (bytes.size() < 10 || std::memcmp(bytes.data(), kMagic, kMagicLen) != 0)
    return Status::error(where + ": not a .npy file (no \\x93NUMPY magic)");
  const int major = bytes[6], minor = bytes[7];
  size_t headerLen, prefix;
  if (major == 1) {
    headerLen = size_t(bytes[8]) | (size_t(bytes[9]) << 8);
    prefix = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12)
      return Status::error(where + ": truncated header");
    headerLen = size_t(bytes[8]) | (size_t(bytes[9]) << 8) | (size_t(bytes[10]) << 16) |
                (size_t(bytes[11]) << 24);
    prefix = 12;
  } else {
    return Status::error(where + ": unsupported .npy format version " + std::to_string(major) +
                         "." + std::to_string(minor) + " (reads 1.0, 2.0, 3.0)");
  }
  if (headerLen > bytes.size() - prefix)
    return Status::error(where + ": truncated header (" + std::to_string(headerLen) +
                         " header bytes announced, " + std::to_string(bytes.size() - prefix) +
                         " present)");
  const std::string header(reinterpret_cast<const char *>(bytes.data() + prefix), headerLen);
  std::map<std::string, PyValue> dict;
  HeaderParser parser(header);
  if (!parser.parse(dict))
    return Status::error(where + ": malformed header (" + parser.error() + ")");

  auto descr = dict.find("descr");
  auto fortran = dict.find("fortran_order");
  auto shape = dict.find("shape");
  if (descr == dict.end() || fortran == dict.end() || shape == dict.end())
    return Status::error(where + ": header lacks 'descr', 'fortran_order' or 'shape'");
  if (descr->second.kind != PyValue::String)
    return Status::error(where + ": unsupported dtype (structured arrays are not supported; "
                                 "supported: " +
                         supportedList() + ")");
  if (fortran->second.kind != PyValue::Bool)
    return Status::error(where + ": 'fortran_order' is not True or False");
  if (shape->second.kind != PyValue::Tuple)
    return Status::error(where + ": 'shape' is not a tuple of integers");

  NpyArray array;
  std::string d = descr->second.str;
  if (d.size() == 3 && d[0] == '=')  // native order; every supported host is little-endian
    d[0] = '<';
  if (d.size() == 3 && d[1] == 'u' && d[2] == '1' && (d[0] == '<' || d[0] == '>'))
    d[0] = '|';  // byte order is meaningless for one-byte types
  bool found = false;
  for (const auto &info : kDTypes)
    if (d == info.descr) {
      array.dtype = info.dtype;
      found = true;
    }
  if (!found) {
    if (!d.empty() && d[0] == '>')
      return Status::error(where + ": big-endian dtype '" + descr->second.str +
                           "' is not supported (supported: " + supportedList() + ")");
    return Status::error(where + ": unsupported dtype '" + descr->second.str +
                         "' (supported: " + supportedList() + ")");
  }
  if (fortran->second.boolean)
    return Status::error(where + ": Fortran order is not supported (save a C-ordered array, "
                                 "e.g. np.ascontiguousarray)");
  array.shape = shape->second.ints;
  const int64_t numel = checkedNumel(array.shape);
  const size_t esize = npyDTypeSize(array.dtype);
  if (numel < 0 || uint64_t(numel) > std::numeric_limits<uint64_t>::max() / esize)
    return Status::error(where + ": shape " + shapeString(array.shape) + " is too large");
  const uint64_t need = uint64_t(numel) * esize;
  const size_t dataStart = prefix + headerLen;
  const size_t have = bytes.size() - dataStart;
  if (have < need)
    return Status::error(where + ": truncated data (" + d + " " + shapeString(array.shape) +
                         " needs " + std::to_string(need) + " bytes, the file holds " +
                         std::to_string(have) + ")");
  if (have > need)
    return Status::error(where + ": " + std::to_string(have - need) +
                         " unexpected bytes after the data of " + d + " " +
                         shapeString(array.shape));
  array.data.assign(bytes.begin() + std::ptrdiff_t(dataStart), bytes.end());
  return array;
}

Status writeNpy(const std::string &path, NpyDType dtype, const std::vector<int64_t> &shape,
                const void *data, size_t nbytes) {
  const std::string where = "npy file " + path;
  const size_t esize = npyDTypeSize(dtype);
  if (esize == 0)
    return Status::error(where + ": cannot write: invalid dtype");
  const int64_t numel = checkedNumel(shape);
  if (numel < 0 || uint64_t(numel) > std::numeric_limits<uint64_t>::max() / esize)
    return Status::error(where + ": cannot write: invalid shape " + shapeString(shape));
  if (uint64_t(numel) * esize != nbytes)
    return Status::error(where + ": cannot write: " + std::to_string(nbytes) +
                         " bytes given, but " + npyDTypeDescr(dtype) + " " +
                         shapeString(shape) + " needs " +
                         std::to_string(uint64_t(numel) * esize));
  if (nbytes && !data)
    return Status::error(where + ": cannot write: no data");

  std::string dict = std::string("{'descr': '") + npyDTypeDescr(dtype) +
                     "', 'fortran_order': False, 'shape': " + shapeString(shape) + ", }";
  // Pad with spaces so that the data starts at a multiple of 64 bytes; end with '\n'.
  size_t prefix = 10;
  size_t total = prefix + dict.size() + 1;
  if (total + (64 - total % 64) % 64 - prefix > 0xFFFF) {
    prefix = 12;  // version 2.0: 4-byte header length
    total = prefix + dict.size() + 1;
  }
  dict.append((64 - total % 64) % 64, ' ');
  dict.push_back('\n');
  std::string head(kMagic, kMagicLen);
  head.push_back(char(prefix == 10 ? 1 : 2));
  head.push_back(0);
  const size_t len = dict.size();
  head.push_back(char(len & 0xFF));
  head.push_back(char((len >> 8) & 0xFF));
  if (prefix == 12) {
    head.push_back(char((len >> 16) & 0xFF));
    head.push_back(char((len >> 24) & 0xFF));
  }
  head += dict;

  return writeFileAtomically(path, where, {{head.data(), head.size()}, {data, nbytes}});
}

Status writeNpy(const std::string &path, const NpyArray &array) {
  return writeNpy(path, array.dtype, array.shape, array.data.data(), array.data.size());
}

}  // namespace sl::io
