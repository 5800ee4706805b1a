// Tokenizer::fromJson on arbitrary tokenizer.json text; a tokenizer that loads then encodes and
// decodes a few fixed strings (so that the normalizers, pre-tokenizers, decoders and
// post-processors the input configures run too).
#include "FuzzSupport.h"

#include "runtime/text/Tokenizer.h"

#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string text(reinterpret_cast<const char *>(data), size);
  auto loaded = sl::text::Tokenizer::fromJson(text, "fuzz/tokenizer.json");
  if (!loaded.ok()) {
    SL_FUZZ_CHECK(!loaded.status().message().empty(), "an error without a message");
    return 0;
  }
  const sl::text::Tokenizer &tok = loaded.value();
  static const char *const kTexts[] = {
      "", "Hello, world!", "  two  spaces\tand\na newline\r\n", "<|im_start|>user\nhi<|im_end|>",
      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe4\xb8\xad\xe6\x96\x87 123456 don't",
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
  for (const char *sample : kTexts) {
    for (bool addSpecial : {false, true}) {
      auto ids = tok.encode(sample, addSpecial);
      if (!ids.ok())
        continue;
      for (int32_t id : ids.value())
        SL_FUZZ_CHECK(id >= 0 && id < tok.vocabSize(), "encode gave an id outside the vocabulary");
      (void)tok.decode(ids.value(), false);
      (void)tok.decode(ids.value(), true);
      sl::text::DecodeStream stream(tok, false);
      for (int32_t id : ids.value())
        (void)stream.push(id);
      (void)stream.flush();
    }
  }
  (void)tok.decode({0, 1, 2, -1, 1 << 30}, false);
  for (int32_t id = 0; id < 8 && id < tok.vocabSize(); ++id) {
    (void)tok.tokenText(id);
    (void)tok.isSpecial(id);
  }
  return 0;
}
