// The real tokenizer of models/tiny on arbitrary text (encode, then decode and stream-decode the
// ids) and on arbitrary id sequences (decode).
// Invariants: encoded ids are in the vocabulary; valid UTF-8 text without special tokens decodes
// back to itself (the tiny tokenizer is byte-level, without a normalizer); streaming decode of
// ids gives the same text as decoding them at once.
#include "FuzzSupport.h"

#include "runtime/text/Tokenizer.h"

#include <cstring>
#include <string>
#include <vector>

namespace {

const sl::text::Tokenizer &tokenizer() {
  static const sl::text::Tokenizer *tok = [] {
    auto loaded = sl::text::Tokenizer::load(std::string(SL_SOURCE_DIR) + "/models/tiny");
    if (!loaded.ok())
      sl::fuzz::fail("cannot load models/tiny's tokenizer", loaded.status().message());
    return new sl::text::Tokenizer(std::move(loaded.value()));
  }();
  return *tok;
}

std::string streamed(const sl::text::Tokenizer &tok, const std::vector<int32_t> &ids, bool skip) {
  sl::text::DecodeStream stream(tok, skip);
  std::string out;
  for (int32_t id : ids)
    out += stream.push(id);
  return out + stream.flush();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  const sl::text::Tokenizer &tok = tokenizer();
  const uint8_t mode = data[0];
  const bool skipSpecial = mode & 2;
  if (mode & 4) {
    // The rest is a sequence of little-endian int32 ids (any value).
    std::vector<int32_t> ids((size - 1) / 4);
    if (!ids.empty())
      std::memcpy(ids.data(), data + 1, ids.size() * 4);
    std::string text = tok.decode(ids, skipSpecial);
    std::string stream = streamed(tok, ids, skipSpecial);
    (void)stream;
    return 0;
  }
  const std::string text(reinterpret_cast<const char *>(data + 1), size - 1);
  const bool addSpecial = mode & 1;
  auto ids = tok.encode(text, addSpecial);
  if (!ids.ok())
    return 0;
  for (int32_t id : ids.value())
    SL_FUZZ_CHECK(id >= 0 && id < tok.vocabSize(), "encode gave an id outside the vocabulary");
  std::string decoded = tok.decode(ids.value(), false);
  if (!addSpecial)
    SL_FUZZ_CHECK(decoded == text, "decode(encode(text)) != text: '" + decoded + "'");
  std::string stream = streamed(tok, ids.value(), skipSpecial);
  SL_FUZZ_CHECK(stream == tok.decode(ids.value(), skipSpecial),
                "stream decoding differs from decode: '" + stream + "'");
  return 0;
}
