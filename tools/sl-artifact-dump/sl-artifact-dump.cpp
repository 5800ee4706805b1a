// sl-artifact-dump: verifies an artifact (.slpkg) and prints its contents: kernels, weights,
// states and every function's launch list. Links no MLIR: it reads the artifact exactly as the
// runtime does.
#include "runtime/schema/ArtifactVersion.h"
#include "runtime/schema/artifact_generated.h"

#include <fstream>
#include <iostream>
#include <iterator>
#include <vector>

namespace schema = sl::schema;

static std::string argText(const schema::Arg &arg) {
  // A token-row pointer of an output-rows launch: "buf3 rows(1024)".
  const std::string rows =
      arg.row_bytes() > 0 ? " rows(" + std::to_string(arg.row_bytes()) + ")" : "";
  switch (arg.kind()) {
  case schema::ArgKind::buffer:
    return "buf" + std::to_string(arg.index()) +
           (arg.byte_offset() ? "+" + std::to_string(arg.byte_offset()) : "") + rows;
  case schema::ArgKind::weight:
    return "w" + std::to_string(arg.index());
  case schema::ArgKind::input:
    return "in" + std::to_string(arg.index()) +
           (arg.byte_offset() ? "+" + std::to_string(arg.byte_offset()) : "") + rows;
  case schema::ArgKind::state_part:
    return "state" + std::to_string(arg.index()) + "." + schema::EnumNameStatePart(arg.part());
  case schema::ArgKind::runtime:  // a host table of a multi-step state: "span_reach:3"
    return schema::EnumNameRuntimeValue(arg.value()) +
           (arg.index() >= 0 ? ":" + std::to_string(arg.index()) : std::string());
  case schema::ArgKind::const_i32:
  case schema::ArgKind::const_i64:
    return std::to_string(arg.int_value());
  case schema::ArgKind::const_f32:
    return std::to_string(arg.float_value());
  }
  return "?";
}

int main(int argc, char **argv) {
  if (argc != 2) {
    std::cerr << "usage: sl-artifact-dump model.slpkg\n";
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::cerr << "sl-artifact-dump: cannot read " << argv[1] << "\n";
    return 1;
  }
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  flatbuffers::Verifier verifier(bytes.data(), bytes.size(), 64, 100000000);
  if (!schema::ArtifactBufferHasIdentifier(bytes.data()) || !schema::VerifyArtifactBuffer(verifier)) {
    std::cerr << "sl-artifact-dump: " << argv[1] << " is not a valid artifact\n";
    return 1;
  }
  const schema::Artifact *artifact = schema::GetArtifact(bytes.data());
  std::cout << "schema " << artifact->schema_version() << " (this build reads "
            << sl::schema::kSchemaVersion << "), " << artifact->producer()->str() << ", from "
            << artifact->source_name()->str() << "\nmodel " << artifact->model()->str()
            << "\nplans";
  // A tensor-parallel artifact: one plan per target and rank ("sm_90a:r1").
  for (const auto *plan : *artifact->plans())
    std::cout << " " << plan->target()->str()
              << (plan->world_size() > 1 ? ":r" + std::to_string(plan->rank()) : "");
  if (artifact->plans()->size() > 0 && artifact->plans()->Get(0)->world_size() > 1)
    std::cout << "\nranks " << artifact->plans()->Get(0)->world_size();
  std::cout << "\nlibrary headers " << artifact->headers()->size() << "\n";
  std::cout << "kernels " << artifact->kernels()->size() << "\n";
  for (const auto *kernel : *artifact->kernels())
    std::cout << "  " << kernel->name()->str() << " threads " << kernel->threads() << " smem "
              << kernel->shared_bytes() << " cubins " << kernel->cubins()->size() << "\n";
  std::cout << "weights " << artifact->weights()->size() << "\n";
  for (const auto *weight : *artifact->weights()) {
    std::cout << "  " << weight->name()->str() << " " << schema::EnumNameDType(weight->dtype())
              << " [";
    for (size_t i = 0; i < weight->shape()->size(); ++i)
      std::cout << (i ? "x" : "") << weight->shape()->Get(i);
    std::cout << "]";
    // A rank's slice: "ranges dim 0 [0+32, 64+32] of [200x64]"; sliced along several
    // dimensions, one list each: "ranges dim 0 [16+16] dim 1 [0+928] of [128x1856x2688]".
    if (weight->ranges() && weight->ranges()->size() > 0) {
      std::cout << " ranges";
      for (size_t i = 0; i < weight->ranges()->size(); ++i) {
        const auto *range = weight->ranges()->Get(i);
        const bool first = i == 0 || weight->ranges()->Get(i - 1)->dim() != range->dim();
        if (first)
          std::cout << (i ? "]" : "") << " dim " << range->dim() << " [";
        std::cout << (first ? "" : ", ") << range->offset() << "+" << range->size();
      }
      std::cout << "] of [";
      for (size_t i = 0; weight->checkpoint_shape() && i < weight->checkpoint_shape()->size(); ++i)
        std::cout << (i ? "x" : "") << weight->checkpoint_shape()->Get(i);
      std::cout << "]";
    }
    std::cout << "\n";
  }
  std::cout << "states " << artifact->states()->size() << "\n";
  for (const auto *state : *artifact->states()) {
    std::cout << "  " << schema::EnumNameStateKind(state->kind()) << " "
              << state->location()->str();
    if (state->msa())
      std::cout << " msa(window " << state->msa()->window() << ", k "
                << state->msa()->num_spans() << ")";
    std::cout << "\n";
  }
  for (const auto *plan : *artifact->plans())
    for (const auto *function : *plan->functions()) {
      size_t collectives = 0;
      for (const auto *launch : *function->launches())
        collectives += launch->collective() ? 1 : 0;
      std::cout << "plan " << plan->target()->str();
      if (plan->world_size() > 1)
        std::cout << " rank " << plan->rank();
      std::cout << " function " << function->name()->str()
                << " phase " << function->phase()->str() << " max_tokens " << function->max_tokens()
                << " arena " << function->arena_bytes() << " buffers "
                << function->buffers()->size() << " launches " << function->launches()->size();
      if (plan->world_size() > 1)
        std::cout << " collectives " << collectives << " states";
      for (size_t i = 0; plan->world_size() > 1 && i < function->states()->size(); ++i)
        std::cout << (i ? "," : " ") << function->states()->Get(i);
      std::cout << "\n";
      for (const auto *launch : *function->launches()) {
        if (const auto *collective = launch->collective()) {
          std::cout << "  collective " << schema::EnumNameCollectiveOp(collective->op()) << " buf"
                    << collective->buffer()
                    << (collective->byte_offset() ? "+" + std::to_string(collective->byte_offset())
                                                  : std::string())
                    << " " << schema::EnumNameDType(collective->dtype()) << " rows("
                    << collective->bytes_per_token() << ") at " << launch->location()->str()
                    << "\n";
          continue;
        }
        std::cout << "  " << artifact->kernels()->Get(launch->kernel())->name()->str() << " grid(";
        for (size_t d = 0; d < 3; ++d) {
          const auto *e = launch->grid()->Get(d);
          std::cout << (d ? ", " : "");
          if (e->mul() == 0)
            std::cout << (e->add() + e->div() - 1) / e->div();
          else
            std::cout << "ceil((" << e->mul() << "n+" << e->add() << ")/" << e->div() << ")";
        }
        std::cout << ") args(";
        for (size_t i = 0; i < launch->args()->size(); ++i)
          std::cout << (i ? ", " : "") << argText(*launch->args()->Get(i));
        std::cout << ")" << (launch->output_rows() ? " output_rows" : "") << "\n";
      }
    }
  // A tile sweep's cases (slc compile --tuning-sweep).
  for (const auto *plan : *artifact->plans()) {
    if (!plan->tuning())
      continue;
    for (const auto *tuningCase : *plan->tuning()) {
      std::cout << "plan " << plan->target()->str() << " tuning " << tuningCase->function()->str()
                << " " << tuningCase->kernel()->str() << " {";
      for (size_t i = 0; i < tuningCase->bucket()->size(); ++i)
        std::cout << (i ? ", " : "") << tuningCase->bucket()->Get(i)->key()->str() << "="
                  << tuningCase->bucket()->Get(i)->value()->str();
      std::cout << "} tiles {";
      for (size_t i = 0; i < tuningCase->params()->size(); ++i)
        std::cout << (i ? ", " : "") << tuningCase->params()->Get(i)->key()->str() << "="
                  << tuningCase->params()->Get(i)->value();
      std::cout << "}" << (tuningCase->heuristic() ? " heuristic" : "") << " flops "
                << tuningCase->flops() << " bytes " << tuningCase->bytes() << "\n";
    }
  }
  return 0;
}
