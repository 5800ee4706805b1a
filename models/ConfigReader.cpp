// Typed access to the keys of config.json with defaults and the first error. See
// ImportConfig.h.
#include "models/ImportConfig.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

namespace sl::importer::detail {

namespace {

// Older spellings that transformers' NemotronHConfig still accepts for the same key, and
// attention_head_dim, the spelling of the Nemotron-H-8B/47B-Base checkpoints' own config class.
constexpr std::pair<const char *, const char *> kLegacyKeys[] = {
    {"n_groups", "mamba_n_groups"},        {"conv_kernel", "mamba_d_conv"},
    {"chunk_size", "mamba_chunk_size"},    {"use_conv_bias", "mamba_conv_bias"},
    {"time_step_limit", "mamba_dt_limit"}, {"head_dim", "attention_head_dim"},
};

}  // namespace

template <typename T>
T ConfigReader::absent(StringRef key, const std::optional<T> &def, T fallback) {
  if (def) {
    noteDefault(key);
    return *def;
  }
  fail(key, "required key is missing" + because());
  return fallback;
}

bool ConfigReader::fail(StringRef key, const std::string &problem) {
  if (error.empty())
    error = path + ": key '" + spelling(key) + "': " + problem;
  return false;
}

const json *ConfigReader::lookup(StringRef key) {
  const json *value = member(key);
  for (auto [canonical, legacy] : kLegacyKeys) {
    if (key != canonical)
      continue;
    const json *old = member(legacy);
    if (!old || old->is_null())
      break;
    if (value && !value->is_null()) {
      if (*value != *old)
        fail(legacy, "legacy spelling of '" + key.str() + "' disagrees with it: " +
                         describe(*old) + " vs " + describe(*value));
      break;
    }
    if (spelling(key) == key)
      spellings.emplace_back(key.str(), legacy);
    return old;
  }
  return value;
}

bool ConfigReader::present(StringRef key) {
  const json *value = lookup(key);
  return value && !value->is_null();
}

void ConfigReader::noteDefault(StringRef key) {
  if (!llvm::is_contained(defaults, key.str()))
    defaults.push_back(key.str());
}

int64_t ConfigReader::integer(StringRef key, std::optional<int64_t> def, int64_t min, int64_t max) {
  const json *v = lookup(key);
  if (!v || (v->is_null() && def))
    return absent(key, def, min);
  if (!v->is_number_integer()) {
    fail(key, "expected an integer, got " + describe(*v));
    return min;
  }
  if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(max)) {
    fail(key, rangeText(min, max) + ", got " + v->dump());
    return min;
  }
  int64_t x = v->get<int64_t>();
  if (x < min || x > max) {
    fail(key, rangeText(min, max) + ", got " + str(x));
    return min;
  }
  return x;
}

double ConfigReader::number(StringRef key, std::optional<double> def) {
  const json *v = lookup(key);
  if (!v || (v->is_null() && def))
    return absent(key, def, 0.0);
  std::optional<double> x = toNumber(*v);
  if (!x) {
    fail(key, "expected a number, got " + describe(*v));
    return def.value_or(0.0);
  }
  return *x;
}

bool ConfigReader::boolean(StringRef key, std::optional<bool> def) {
  const json *v = lookup(key);
  if (!v || (v->is_null() && def))
    return absent(key, def, false);
  if (!v->is_boolean()) {
    fail(key, "expected a boolean, got " + describe(*v));
    return def.value_or(false);
  }
  return v->get<bool>();
}

std::string ConfigReader::string(StringRef key, std::optional<std::string> def) {
  const json *v = lookup(key);
  if (!v || (v->is_null() && def))
    return absent(key, def, std::string());
  if (!v->is_string()) {
    fail(key, "expected a string, got " + describe(*v));
    return def.value_or(std::string());
  }
  return v->get<std::string>();
}

DType ConfigReader::dtype(StringRef key, std::optional<std::string> def) {
  std::string name = string(key, def);
  if (!ok())
    return DType::F32;
  if (name == "bfloat16")
    return DType::BF16;
  if (name == "float16")
    return DType::F16;
  if (name == "float32")
    return DType::F32;
  fail(key, "unsupported dtype '" + name + "'; supported: bfloat16, float16, float32");
  return DType::F32;
}

mlir::sl::Activation ConfigReader::activation(StringRef key, std::optional<std::string> def,
                                llvm::ArrayRef<StringRef> allowed) {
  std::string name = string(key, def);
  if (!ok())
    return mlir::sl::Activation::silu;
  // transformers' ACT2FN spells silu also as "swish".
  StringRef kind = name == "swish" ? "silu" : StringRef(name);
  if (llvm::is_contained(allowed, kind))
    return kind == "relu2" ? mlir::sl::Activation::relu2 : mlir::sl::Activation::silu;
  fail(key, "unsupported activation '" + name + "'; supported: " + llvm::join(allowed, ", "));
  return mlir::sl::Activation::silu;
}

std::optional<double> ConfigReader::toNumber(const json &v) {
  if (v.is_number())
    return v.get<double>();
  const json *text = &v;
  if (v.is_object() && v.size() == 1 && v.contains("__float__"))
    text = &v["__float__"];
  if (!text->is_string())
    return std::nullopt;
  const std::string &s = text->get_ref<const std::string &>();
  if (s == "Infinity" || s == "inf" || s == "+inf" || s == "+Infinity")
    return kInf;
  if (s == "-Infinity" || s == "-inf")
    return -kInf;
  if (s == "NaN" || s == "nan")
    return std::numeric_limits<double>::quiet_NaN();
  return std::nullopt;
}

const json *ConfigReader::member(StringRef key) const {
  auto it = root.find(key.str());
  return it == root.end() ? nullptr : &*it;
}

std::string ConfigReader::spelling(StringRef key) const {
  for (const auto &[canonical, found] : spellings)
    if (canonical == key)
      return found;
  return key.str();
}

std::string ConfigReader::rangeText(int64_t min, int64_t max) {
  return "must be an integer in [" + str(min) + ", " + str(max) + "]";
}

}  // namespace sl::importer::detail
