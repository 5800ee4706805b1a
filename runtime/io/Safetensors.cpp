#include "runtime/io/Safetensors.h"

#include "runtime/io/Files.h"

#include "runtime/io/Json.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <set>
#include <sstream>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sl::io {

namespace {

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Number of elements, or -1 when a dim is negative or the product overflows.
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

bool parseDType(const std::string &s, WeightDType &out) {
  if (s == "F32")
    out = WeightDType::F32;
  else if (s == "F16")
    out = WeightDType::F16;
  else if (s == "BF16")
    out = WeightDType::BF16;
  else
    return false;
  return true;
}

bool isDirectory(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool exists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string joinPath(const std::string &dir, const std::string &name) {
  if (dir.empty() || dir.back() == '/')
    return dir + name;
  return dir + "/" + name;
}

const char *const kExpertPlaceholder = "{e}";

bool hasExpertPlaceholder(const std::string &name) {
  return name.find(kExpertPlaceholder) != std::string::npos;
}

std::string expertName(const std::string &pattern, int64_t e) {
  std::string out = pattern;
  const std::string idx = std::to_string(e);
  size_t pos = 0;
  while ((pos = out.find(kExpertPlaceholder, pos)) != std::string::npos) {
    out.replace(pos, 3, idx);
    pos += idx.size();
  }
  return out;
}

uint16_t load16(const uint8_t *p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

float loadElement(const uint8_t *base, size_t i, WeightDType dtype) {
  switch (dtype) {
  case WeightDType::F32: {
    float f;
    std::memcpy(&f, base + 4 * i, 4);
    return f;
  }
  case WeightDType::F16:
    return f16ToF32(load16(base + 2 * i));
  case WeightDType::BF16:
    return bf16ToF32(load16(base + 2 * i));
  }
  return 0.0f;
}

// Converts `count` elements of `from` at `src` into `to` at `dst`.
void convert(const uint8_t *src, WeightDType from, uint8_t *dst, WeightDType to, size_t count) {
  if (from == to) {
    std::memcpy(dst, src, count * weightDTypeSize(to));
    return;
  }
  for (size_t i = 0; i < count; ++i) {
    float f = loadElement(src, i, from);
    switch (to) {
    case WeightDType::F32:
      std::memcpy(dst + 4 * i, &f, 4);
      break;
    case WeightDType::F16: {
      uint16_t h = f32ToF16(f);
      std::memcpy(dst + 2 * i, &h, 2);
      break;
    }
    case WeightDType::BF16: {
      uint16_t b = f32ToBF16(f);
      std::memcpy(dst + 2 * i, &b, 2);
      break;
    }
    }
  }
}

// The largest expert count accepted from a binding (guards against a corrupt shape).
constexpr int64_t kMaxExperts = int64_t(1) << 20;

}  // namespace

// ---------------------------------------------------------------------------------------------
// Element conversions

float bf16ToF32(uint16_t bits) {
  uint32_t u = uint32_t(bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

float f16ToF32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1F;
  uint32_t mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      uint32_t e = 127 - 15 + 1;
      while (!(mant & 0x400)) {
        mant <<= 1;
        --e;
      }
      bits = sign | (e << 23) | ((mant & 0x3FF) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t f32ToBF16(float value) {
  uint32_t u;
  std::memcpy(&u, &value, 4);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u)  // NaN: keep sign, force quiet
    return uint16_t((u >> 16) | 0x0040);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

uint16_t f32ToF16(float value) {
  uint32_t u;
  std::memcpy(&u, &value, 4);
  uint16_t sign = uint16_t((u >> 16) & 0x8000);
  uint32_t abs = u & 0x7FFFFFFFu;
  if (abs > 0x7F800000u)
    return sign | 0x7E00;  // NaN
  if (abs == 0x7F800000u)
    return sign | 0x7C00;  // inf
  int32_t exp = int32_t(abs >> 23) - 127 + 15;
  if (exp >= 31)
    return sign | 0x7C00;  // too large: inf
  if (exp <= 0) {          // subnormal half (or zero)
    if (exp < -10)
      return sign;
    uint32_t mant = (abs & 0x7FFFFFu) | 0x800000u;
    uint32_t shift = uint32_t(14 - exp);
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (half & 1)))
      ++half;  // may carry into the smallest normal, which is right
    return sign | uint16_t(half);
  }
  uint32_t half = (uint32_t(exp) << 10) | ((abs & 0x7FFFFFu) >> 13);
  uint32_t rem = abs & 0x1FFFu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1)))
    ++half;  // may carry into the exponent, up to inf, which is right
  return sign | uint16_t(half);
}

// ---------------------------------------------------------------------------------------------
// WeightStore

const char *weightDTypeName(WeightDType dtype) {
  switch (dtype) {
  case WeightDType::F32:
    return "F32";
  case WeightDType::F16:
    return "F16";
  case WeightDType::BF16:
    return "BF16";
  }
  return "?";
}

size_t weightDTypeSize(WeightDType dtype) { return dtype == WeightDType::F32 ? 4 : 2; }

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

struct WeightStore::Mapping {
  std::string path;
  void *addr = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (addr)
      ::munmap(addr, size);
  }
};

WeightStore::WeightStore() = default;
WeightStore::WeightStore(WeightStore &&) noexcept = default;
WeightStore &WeightStore::operator=(WeightStore &&) noexcept = default;
WeightStore::~WeightStore() = default;

const TensorView *WeightStore::find(const std::string &name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

std::vector<std::string> WeightStore::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto &kv : tensors_)
    out.push_back(kv.first);
  return out;
}

StatusOr<std::vector<TensorView>> parseSafetensors(const uint8_t *bytes, size_t fileSize,
                                                   const std::string &path) {
  const std::string where = "safetensors file " + path;
  if (fileSize < 8)
    return Status::error(where + ": truncated or not a safetensors file (" +
                         std::to_string(fileSize) + " bytes, shorter than the 8-byte header "
                         "length)");
  uint64_t headerLen = 0;
  for (int i = 7; i >= 0; --i)
    headerLen = (headerLen << 8) | bytes[i];
  if (headerLen > fileSize - 8)
    return Status::error(where + ": truncated or not a safetensors file (header length " +
                         std::to_string(headerLen) + " exceeds the " +
                         std::to_string(fileSize - 8) + " bytes after the length field)");
  const char *headerBegin = reinterpret_cast<const char *>(bytes + 8);
  // The header is {name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}: a few levels
  // deep; tensor names must be unique.
  JsonLimits limits;
  limits.maxDepth = 8;
  auto parsedHeader = parseJson(std::string_view(headerBegin, size_t(headerLen)), limits,
                                where + ": JSON header");
  if (!parsedHeader.ok())
    return Status::error(parsedHeader.status().message() + " (not a safetensors file?)");
  const nlohmann::json &header = parsedHeader.value();
  if (!header.is_object())
    return Status::error(where + ": header is not a JSON object (not a safetensors file?)");

  const size_t dataStart = 8 + size_t(headerLen);
  const size_t dataSize = fileSize - dataStart;
  std::vector<TensorView> parsed;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string &name = it.key();
    if (name == "__metadata__")
      continue;
    const std::string what = where + ": tensor '" + name + "'";
    const nlohmann::json &entry = it.value();
    if (!entry.is_object())
      return Status::error(what + ": header entry is not an object");
    auto dt = entry.find("dtype");
    auto sh = entry.find("shape");
    auto off = entry.find("data_offsets");
    if (dt == entry.end() || !dt->is_string())
      return Status::error(what + ": missing or non-string 'dtype'");
    if (sh == entry.end() || !sh->is_array())
      return Status::error(what + ": missing or non-array 'shape'");
    if (off == entry.end() || !off->is_array() || off->size() != 2 ||
        !(*off)[0].is_number_unsigned() || !(*off)[1].is_number_unsigned())
      return Status::error(what + ": 'data_offsets' is not a pair of non-negative integers");
    TensorView view;
    view.name = name;
    view.file = path;
    const std::string dtypeStr = dt->get<std::string>();
    if (!parseDType(dtypeStr, view.dtype))
      return Status::error(what + ": unsupported dtype " + dtypeStr +
                           " (supported: F32, F16, BF16)");
    for (const auto &d : *sh) {
      if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0))
        return Status::error(what + ": shape " + sh->dump() +
                             " has an entry that is not a non-negative integer");
      uint64_t v = d.get<uint64_t>();
      if (v > uint64_t(std::numeric_limits<int64_t>::max()))
        return Status::error(what + ": shape " + sh->dump() + " is too large");
      view.shape.push_back(int64_t(v));
    }
    int64_t numel = checkedNumel(view.shape);
    const size_t esize = weightDTypeSize(view.dtype);
    if (numel < 0 || uint64_t(numel) > std::numeric_limits<uint64_t>::max() / esize)
      return Status::error(what + ": shape " + shapeString(view.shape) + " is too large");
    const uint64_t begin = (*off)[0].get<uint64_t>(), end = (*off)[1].get<uint64_t>();
    const uint64_t need = uint64_t(numel) * esize;
    if (end < begin || end - begin != need)
      return Status::error(what + ": data_offsets [" + std::to_string(begin) + ", " +
                           std::to_string(end) + "] do not hold the " + std::to_string(need) +
                           " bytes of " + dtypeStr + " " + shapeString(view.shape));
    if (end > dataSize)
      return Status::error(where + ": truncated: tensor '" + name + "' needs data bytes [" +
                           std::to_string(begin) + ", " + std::to_string(end) +
                           ") but the file holds only " + std::to_string(dataSize) +
                           " bytes of data (" + std::to_string(fileSize) + " bytes in all)");
    view.data = bytes + dataStart + begin;
    view.nbytes = size_t(need);
    parsed.push_back(std::move(view));
  }
  return parsed;
}

Status WeightStore::addFile(const std::string &path) {
  const std::string where = "safetensors file " + path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Status::error(where + ": cannot be opened (" + std::strerror(errno) + ")");
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::error(where + ": cannot stat (" + std::strerror(err) + ")");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::error(where + ": not a regular file");
  }
  const size_t fileSize = size_t(st.st_size);
  if (fileSize < 8) {
    ::close(fd);
    return Status::error(where + ": truncated or not a safetensors file (" +
                         std::to_string(fileSize) + " bytes, shorter than the 8-byte header "
                         "length)");
  }
  void *addr = ::mmap(nullptr, fileSize, PROT_READ, MAP_PRIVATE, fd, 0);
  int mmapErr = errno;
  ::close(fd);
  if (addr == MAP_FAILED)
    return Status::error(where + ": cannot be mapped (" + std::strerror(mmapErr) + ")");
  auto mapping = std::make_unique<Mapping>();
  mapping->path = path;
  mapping->addr = addr;
  mapping->size = fileSize;
  const uint8_t *bytes = static_cast<const uint8_t *>(addr);
  auto views = parseSafetensors(bytes, fileSize, path);
  if (!views.ok())
    return views.status();
  std::map<std::string, TensorView> parsed;
  for (TensorView &view : views.value()) {
    std::string name = view.name;
    parsed.emplace(std::move(name), std::move(view));
  }
  for (auto &kv : parsed) {
    auto existing = tensors_.find(kv.first);
    if (existing != tensors_.end())
      return Status::error(where + ": tensor '" + kv.first + "' is also in " +
                           existing->second.file);
  }
  for (auto &kv : parsed)
    tensors_.emplace(kv.first, std::move(kv.second));
  mappings_.push_back(std::move(mapping));
  return Status::success();
}

StatusOr<WeightStore> WeightStore::open(const std::string &path) {
  WeightStore store;
  store.source_ = path;
  if (!exists(path))
    return Status::error("weights " + path + ": no such file or directory");
  if (!isDirectory(path)) {
    Status s = store.addFile(path);
    if (!s.ok())
      return s;
    return store;
  }
  const std::string single = joinPath(path, "model.safetensors");
  const std::string indexPath = joinPath(path, "model.safetensors.index.json");
  if (exists(single)) {
    Status s = store.addFile(single);
    if (!s.ok())
      return s;
    return store;
  }
  if (!exists(indexPath))
    return Status::error("weights " + path +
                         ": no model.safetensors or model.safetensors.index.json in the "
                         "directory");

  const std::string where = "safetensors index " + indexPath;
  auto bytes = readWholeFile(indexPath, "safetensors index");
  if (!bytes)
    return bytes.status();
  auto parsed = parseJson(std::string_view(reinterpret_cast<const char *>(bytes->data()),
                                           bytes->size()),
                          JsonLimits{}, where);
  if (!parsed)
    return parsed.status();
  const nlohmann::json &index = *parsed;
  if (!index.is_object())
    return Status::error(where + ": not an object (expected an object with \"weight_map\")");
  auto wm = index.find("weight_map");
  if (wm == index.end() || !wm->is_object())
    return Status::error(where + ": no \"weight_map\" object");
  std::map<std::string, std::string> tensorToShard;
  std::set<std::string> shards;
  for (auto it = wm->begin(); it != wm->end(); ++it) {
    if (!it.value().is_string())
      return Status::error(where + ": weight_map entry for '" + it.key() +
                           "' is not a file name");
    std::string shard = it.value().get<std::string>();
    if (shard.empty() || shard[0] == '/')
      return Status::error(where + ": weight_map entry for '" + it.key() + "' names '" + shard +
                           "', not a file name relative to the directory");
    tensorToShard[it.key()] = shard;
    shards.insert(shard);
  }
  if (shards.empty())
    return Status::error(where + ": weight_map is empty");
  for (const std::string &shard : shards) {
    const std::string shardPath = joinPath(path, shard);
    if (!exists(shardPath)) {
      std::string example;
      for (const auto &kv : tensorToShard)
        if (kv.second == shard) {
          example = kv.first;
          break;
        }
      return Status::error(where + ": shard " + shardPath + " (holding '" + example +
                           "' and others) does not exist");
    }
    Status s = store.addFile(shardPath);
    if (!s.ok())
      return s;
  }
  for (const auto &kv : tensorToShard) {
    const TensorView *t = store.find(kv.first);
    const std::string shardPath = joinPath(path, kv.second);
    if (!t)
      return Status::error(where + ": lists tensor '" + kv.first + "' in " + shardPath +
                           ", which does not contain it");
    if (t->file != shardPath)
      return Status::error(where + ": lists tensor '" + kv.first + "' in " + shardPath +
                           ", but it is in " + t->file);
  }
  return store;
}

// ---------------------------------------------------------------------------------------------
// Bindings

void copySlice(const uint8_t *whole, const std::vector<int64_t> &shape, size_t elementBytes,
               const WeightSlice &slice, uint8_t *out) {
  size_t outer = 1, inner = elementBytes;
  for (int64_t d = 0; d < int64_t(shape.size()); ++d)
    (d < slice.dim ? outer : inner) *= d == slice.dim ? 1 : size_t(shape[d]);
  const size_t extent = size_t(shape[slice.dim]);
  for (size_t o = 0; o < outer; ++o)
    for (auto [offset, size] : slice.pieces) {
      std::memcpy(out, whole + (o * extent + size_t(offset)) * inner, size_t(size) * inner);
      out += size_t(size) * inner;
    }
}

StatusOr<std::vector<uint8_t>> materialize(const WeightStore &store,
                                           const std::string &bindingName, WeightDType want,
                                           const std::vector<int64_t> &shape,
                                           const WeightSlice *slice) {
  return materialize(store, bindingName, want, shape,
                     slice ? std::vector<WeightSlice>{*slice} : std::vector<WeightSlice>{});
}

StatusOr<std::vector<uint8_t>> materialize(const WeightStore &store,
                                           const std::string &bindingName, WeightDType want,
                                           const std::vector<int64_t> &shape,
                                           const std::vector<WeightSlice> &slices) {
  const std::string what = "weight '" + bindingName + "' (checkpoint " + store.source() + ")";
  const int64_t numel = checkedNumel(shape);
  if (numel < 0 || uint64_t(numel) > std::numeric_limits<size_t>::max() / 4)
    return Status::error(what + ": invalid binding shape " + shapeString(shape));
  const size_t esize = weightDTypeSize(want);

  std::vector<const TensorView *> parts;
  std::vector<int64_t> partShape;
  if (hasExpertPlaceholder(bindingName)) {
    if (shape.empty() || shape[0] > kMaxExperts)
      return Status::error(what + ": a \"{e}\" binding needs a shape whose first dim is the "
                                  "expert count, got " +
                           shapeString(shape));
    partShape.assign(shape.begin() + 1, shape.end());
    for (int64_t e = 0; e < shape[0]; ++e) {
      const std::string name = expertName(bindingName, e);
      const TensorView *t = store.find(name);
      if (!t)
        return Status::error(what + ": tensor '" + name + "' (expert " + std::to_string(e) +
                             " of " + std::to_string(shape[0]) + ", shape " +
                             shapeString(partShape) + ") is missing");
      if (t->shape != partShape)
        return Status::error(what + ": tensor '" + name + "' has shape " +
                             shapeString(t->shape) + ", expected " + shapeString(partShape));
      parts.push_back(t);
    }
  } else {
    const TensorView *t = store.find(bindingName);
    if (!t)
      return Status::error(what + ": tensor is missing (expected shape " + shapeString(shape) +
                           ")");
    if (t->shape != shape)
      return Status::error(what + ": tensor has shape " + shapeString(t->shape) +
                           ", expected " + shapeString(shape));
    parts.push_back(t);
  }

  if (slices.empty()) {
    std::vector<uint8_t> out(size_t(numel) * esize);
    size_t offset = 0;
    for (const TensorView *t : parts) {
      const size_t count = size_t(t->numel());
      convert(t->data, t->dtype, out.data() + offset, want, count);
      offset += count * esize;
    }
    return out;
  }
  // The kept shape, checking that the slices lie inside `shape` along ascending dimensions.
  std::vector<int64_t> kept = shape;
  int64_t previous = -1;
  for (const WeightSlice &slice : slices) {
    if (slice.dim <= previous || slice.dim >= int64_t(shape.size()))
      return Status::error(what + ": cannot slice dimension " + std::to_string(slice.dim));
    previous = slice.dim;
    kept[size_t(slice.dim)] = 0;
    for (auto [offset, size] : slice.pieces) {
      if (offset < 0 || size < 0 || offset > shape[size_t(slice.dim)] - size)
        return Status::error(what + ": a slice outside dimension " + std::to_string(slice.dim));
      kept[size_t(slice.dim)] += size;
    }
  }
  // The stacked experts are dimension 0 of `shape`: a slice of it picks expert tensors, and a
  // slice along a later dimension is the same slice (one dimension lower) of each of them.
  const bool stacked = parts.size() > 1 || hasExpertPlaceholder(bindingName);
  std::vector<WeightSlice> partSlices;
  std::vector<const TensorView *> keptParts = parts;
  for (const WeightSlice &slice : slices) {
    if (stacked && slice.dim == 0) {
      keptParts.clear();
      for (auto [offset, size] : slice.pieces)
        keptParts.insert(keptParts.end(), parts.begin() + offset, parts.begin() + offset + size);
      continue;
    }
    partSlices.push_back(slice);
    if (stacked)
      partSlices.back().dim -= 1;
  }
  std::vector<uint8_t> out(size_t(checkedNumel(kept)) * esize);
  size_t offset = 0;
  std::vector<uint8_t> raw, next;
  for (const TensorView *t : keptParts) {
    // One dimension at a time: each copy keeps that dimension's pieces of the previous one.
    const size_t bytes = weightDTypeSize(t->dtype);
    std::vector<int64_t> partShape = t->shape;
    const uint8_t *src = t->data;
    size_t count = size_t(t->numel());
    for (const WeightSlice &slice : partSlices) {
      int64_t size = 0;
      for (auto piece : slice.pieces)
        size += piece.second;
      count = count / size_t(partShape[size_t(slice.dim)]) * size_t(size);
      next.resize(count * bytes);
      copySlice(src, partShape, bytes, slice, next.data());
      partShape[size_t(slice.dim)] = size;
      raw.swap(next);
      src = raw.data();
    }
    convert(src, t->dtype, out.data() + offset, want, count);
    offset += count * esize;
  }
  return out;
}

Status checkBindings(const WeightStore &store, const std::vector<WeightSpec> &bindings) {
  constexpr size_t kMaxListed = 100;
  std::vector<std::string> missing, mismatched, invalid;
  std::set<std::string> used;
  auto expect = [&](const std::string &name, const std::vector<int64_t> &shape) {
    used.insert(name);
    const TensorView *t = store.find(name);
    if (!t)
      missing.push_back(name + " " + shapeString(shape));
    else if (t->shape != shape)
      mismatched.push_back(name + " expected " + shapeString(shape) + ", found " +
                           shapeString(t->shape));
  };
  for (const WeightSpec &b : bindings) {
    if (checkedNumel(b.shape) < 0) {
      invalid.push_back(b.name + " " + shapeString(b.shape));
      continue;
    }
    if (!hasExpertPlaceholder(b.name)) {
      expect(b.name, b.shape);
      continue;
    }
    if (b.shape.empty() || b.shape[0] > kMaxExperts) {
      invalid.push_back(b.name + " " + shapeString(b.shape) +
                        " (\"{e}\" needs the expert count as the first dim)");
      continue;
    }
    std::vector<int64_t> partShape(b.shape.begin() + 1, b.shape.end());
    for (int64_t e = 0; e < b.shape[0]; ++e)
      expect(expertName(b.name, e), partShape);
  }
  std::vector<std::string> unexpected;
  for (const std::string &name : store.names())
    if (!used.count(name))
      unexpected.push_back(name);
  if (missing.empty() && mismatched.empty() && unexpected.empty() && invalid.empty())
    return Status::success();

  auto list = [&](const std::vector<std::string> &items, const char *sep) {
    std::string s;
    for (size_t i = 0; i < items.size() && i < kMaxListed; ++i)
      s += (i ? sep : "") + items[i];
    if (items.size() > kMaxListed)
      s += std::string(sep) + "... and " + std::to_string(items.size() - kMaxListed) + " more";
    return s;
  };
  std::ostringstream msg;
  msg << "checkpoint " << store.source() << " does not match the model's weight bindings ("
      << missing.size() << " missing, " << mismatched.size() << " with a wrong shape, "
      << unexpected.size() << " unexpected";
  if (!invalid.empty())
    msg << ", " << invalid.size() << " invalid bindings";
  msg << "):";
  if (!missing.empty())
    msg << "\n  missing tensors: " << list(missing, "; ");
  if (!mismatched.empty())
    msg << "\n  shape mismatches: " << list(mismatched, "; ");
  if (!unexpected.empty())
    msg << "\n  unexpected tensors (used by no binding): " << list(unexpected, ", ");
  if (!invalid.empty())
    msg << "\n  invalid bindings: " << list(invalid, "; ");
  return Status::error(msg.str());
}

}  // namespace sl::io
