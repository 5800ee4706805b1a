#include "runtime/io/Json.h"

#include <string>
#include <unordered_set>
#include <vector>

namespace sl::io {

namespace {

// Builds the value from nlohmann's SAX events with an explicit stack, checking the limits as it
// goes: the first broken limit stops the parse, so a hostile input costs one linear pass.
template <typename Json>
class LimitedBuilder {
public:
  using Int = typename Json::number_integer_t;
  using Unsigned = typename Json::number_unsigned_t;
  using Float = typename Json::number_float_t;
  using String = typename Json::string_t;
  using Binary = typename Json::binary_t;
  using Object = typename Json::object_t;

  explicit LimitedBuilder(const JsonLimits &limits) : limits_(limits) {}

  bool null() { return add(Json(nullptr)); }
  bool boolean(bool value) { return add(Json(value)); }
  bool number_integer(Int value) { return add(Json(value)); }
  bool number_unsigned(Unsigned value) { return add(Json(value)); }
  bool number_float(Float value, const String &) { return add(Json(value)); }
  bool string(String &value) { return add(Json(std::move(value))); }
  bool binary(Binary &value) { return add(Json::binary(std::move(value))); }
  bool start_object(std::size_t) { return open(Json::object()); }
  bool start_array(std::size_t) { return open(Json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(String &name) {
    Frame &frame = stack_.back();
    frame.key = std::move(name);
    if (++frame.keys > limits_.maxKeysPerObject)
      return fail("an object has more than " + std::to_string(limits_.maxKeysPerObject) +
                  " keys");
    if (limits_.rejectDuplicateKeys && !frame.seen.insert(frame.key).second)
      return fail("duplicate key '" + frame.key + "'");
    return true;
  }
  bool parse_error(std::size_t position, const std::string &, const nlohmann::detail::exception &e) {
    // nlohmann's message: "[json.exception.parse_error.101] parse error at line 1, column 2: ..."
    std::string message = e.what();
    size_t colon = message.find("parse error");
    message_ = colon == std::string::npos ? message : message.substr(colon);
    position_ = position;
    return false;
  }

  Json &result() { return root_; }
  const std::string &message() const { return message_; }
  size_t position() const { return position_; }

private:
  struct Frame {
    Json *value;
    size_t keys = 0, items = 0;
    String key;  // the pending key of an object
    std::unordered_set<String> seen;
  };

  // Where the parser is, as $.key[3].key (for messages).
  std::string path() const {
    std::string out = "$";
    for (const Frame &frame : stack_) {
      if (frame.value->is_object())
        out += "." + frame.key;
      else
        out += "[" + std::to_string(frame.items) + "]";
    }
    return out;
  }

  bool fail(std::string message) {
    message_ = message + " at " + path();
    return false;
  }

  // Inserts `value` where the parser is; returns where it landed.
  Json *insert(Json value) {
    if (stack_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    Frame &frame = stack_.back();
    if (frame.value->is_array()) {
      auto &array = frame.value->template get_ref<typename Json::array_t &>();
      array.push_back(std::move(value));
      return &array.back();
    }
    auto &object = frame.value->template get_ref<Object &>();
    if constexpr (std::is_same_v<Object, nlohmann::ordered_json::object_t>) {
      // ordered_map::emplace searches linearly for the key; duplicates are handled by `seen`.
      using Base = typename Object::Container;
      Base &items = object;
      if (!limits_.rejectDuplicateKeys) {
        for (auto &item : items)
          if (item.first == frame.key) {
            item.second = std::move(value);
            return &item.second;
          }
      }
      items.emplace_back(frame.key, std::move(value));
      return &items.back().second;
    } else {
      auto &slot = object[frame.key];
      slot = std::move(value);
      return &slot;
    }
  }

  bool add(Json value) {
    insert(std::move(value));
    if (!stack_.empty())
      ++stack_.back().items;
    return true;
  }

  bool open(Json container) {
    if (stack_.size() >= limits_.maxDepth)
      return fail("nesting deeper than " + std::to_string(limits_.maxDepth) + " levels");
    Json *value = insert(std::move(container));
    stack_.emplace_back();
    stack_.back().value = value;
    return true;
  }

  bool close() {
    stack_.pop_back();
    if (!stack_.empty())
      ++stack_.back().items;
    return true;
  }

  const JsonLimits &limits_;
  Json root_;
  std::vector<Frame> stack_;
  std::string message_;
  size_t position_ = 0;
};

template <typename Json>
StatusOr<Json> parseLimited(std::string_view text, const JsonLimits &limits, std::string_view what) {
  LimitedBuilder<Json> builder(limits);
  bool ok = Json::sax_parse(text.begin(), text.end(), &builder, nlohmann::json::input_format_t::json,
                            /*strict=*/true);
  if (!ok)
    return Status::error(std::string(what) + ": " + builder.message());
  return std::move(builder.result());
}

}  // namespace

StatusOr<nlohmann::json> parseJson(std::string_view text, const JsonLimits &limits,
                                   std::string_view what) {
  return parseLimited<nlohmann::json>(text, limits, what);
}

StatusOr<nlohmann::ordered_json> parseOrderedJson(std::string_view text, const JsonLimits &limits,
                                                  std::string_view what) {
  return parseLimited<nlohmann::ordered_json>(text, limits, what);
}

}  // namespace sl::io
