#include "compiler/CompileCommand.h"

#include "compiler/ArtifactWriter.h"
#include "compiler/KernelCheck.h"
#include "compiler/NestingCheck.h"
#include "compiler/Passes.h"
#include "compiler/TuningDatabase.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

#include <optional>
#include <set>
#include <thread>

namespace sl::compiler {

namespace cl = llvm::cl;
using namespace mlir;

namespace {

// The pipeline of docs/pipeline.md, in order; --stop-after names one of these.
const char *const kPipeline[] = {"canonicalize",
                                 "sl-shard-graph",
                                 "sl-fuse-epilogues",
                                 "sl-specialize-phases",
                                 "sl-select-tiles",
                                 "sl-build-tuning-sweep",
                                 "sl-check-kernel-shapes",
                                 "sl-lower-to-slk",
                                 "sl-plan-buffers",
                                 "sl-emit-cuda"};

// Largest prefill call: 2^20 tokens, 32x the chunks the benchmarks use; a chunk's activations
// and logits ([chunk, vocab] floats) already take gigabytes at that size.
constexpr int64_t kMaxPrefillChunk = int64_t(1) << 20;

std::vector<std::string> splitList(const std::string &text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos
                                                                      : comma - start);
    if (!item.empty())
      items.push_back(item);
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return items;
}

int fail(const std::string &message) {
  llvm::errs() << "slc compile: " << message << "\n";
  return 1;
}

// Largest tensor of a hand-written module, per token row for the token dimension (`?`): the
// bound of the importer's whole model (docs/importer.md). Sizes beyond it would overflow the
// arena arithmetic of sl-plan-buffers.
constexpr uint64_t kMaxTensorBytes = uint64_t(1) << 40;

// The bytes of `type` (a ranked tensor, a dynamic dimension counted as 1), or nullopt when they
// overflow 64 bits; 0 for other types.
std::optional<uint64_t> tensorBytes(Type type) {
  auto tensor = llvm::dyn_cast<RankedTensorType>(type);
  if (!tensor)
    return 0;
  Type element = tensor.getElementType();
  uint64_t bytes = element.isIntOrFloat() ? (element.getIntOrFloatBitWidth() + 7) / 8 : 8;
  for (int64_t dim : tensor.getShape())
    if (dim != ShapedType::kDynamic && __builtin_mul_overflow(bytes, uint64_t(dim), &bytes))
      return std::nullopt;
  return bytes;
}

// Every tensor of `function` (arguments and op results) below kMaxTensorBytes.
LogicalResult checkTensorSizes(func::FuncOp function) {
  auto check = [&](Type type, Location location) -> LogicalResult {
    std::optional<uint64_t> bytes = tensorBytes(type);
    if (bytes && *bytes < kMaxTensorBytes)
      return success();
    InFlightDiagnostic diagnostic = emitError(location) << type << " takes ";
    if (bytes)
      diagnostic << *bytes;
    else
      diagnostic << "more than 2^64";
    return diagnostic << " bytes, above the supported " << kMaxTensorBytes << " (1 TiB)";
  };
  for (BlockArgument argument : function.getArguments())
    if (failed(check(argument.getType(), function.getLoc())))
      return failure();
  WalkResult walked = function.walk([&](Operation *op) {
    for (Type type : op->getResultTypes())
      if (failed(check(type, op->getLoc())))
        return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return failure(walked.wasInterrupted());
}

// What the pipeline compiles: the model function @forward (from slc import) or hand-written
// functions, each with ops to run, on tensors of sane sizes. Anything less would "compile" to
// an artifact that runs nothing (or overflows a later pass's arithmetic), so it is an error at
// the function, op (or module) it concerns.
// (Reported at the location only: the op printed in full would repeat the whole input.)
LogicalResult checkCompilable(ModuleOp module) {
  auto functions = module.getOps<func::FuncOp>();
  if (functions.empty())
    return emitError(module.getLoc())
           << "the module defines no function to compile: expected @forward (the model, as "
              "slc import writes it) or hand-written functions of sl ops";
  for (func::FuncOp function : functions) {
    if (function.isExternal())
      return emitError(function.getLoc())
             << "function @" << function.getSymName()
             << " is a declaration without a body: there are no ops to compile";
    bool hasOps = llvm::any_of(function.getBody().getOps(), [](Operation &op) {
      return !op.hasTrait<OpTrait::IsTerminator>();
    });
    if (!hasOps)
      return emitError(function.getLoc()) << "function @" << function.getSymName()
                                  << " has no ops besides its return: nothing to compile";
    if (failed(checkTensorSizes(function)))
      return failure();
  }
  return success();
}

}  // namespace

int runCompileCommand(int argc, char **argv) {
  cl::OptionCategory category("slc compile options");
  auto in = cl::cat(category);
  cl::opt<std::string> input(cl::Positional, cl::desc("<model.mlir>"), cl::Required, in);
  cl::opt<std::string> output("o", cl::desc("Output file (artifact; '-' = stdout for --emit)"),
                              cl::value_desc("file"), cl::init(""), in);
  cl::opt<std::string> targets("target",
                               cl::desc("Comma-separated GPU targets, one plan each: tiles "
                                        "selected and kernels checked with NVRTC per target "
                                        "(sm_90a: H100/H200, sm_100a: B200)"),
                               cl::init("sm_90a"), in);
  cl::opt<std::string> emit("emit",
                            cl::desc("What to write: artifact (default), mlir (the IR after the "
                                     "pipeline or --stop-after), cuda (every kernel's source)"),
                            cl::init("artifact"), in);
  // libLLVM already registers a string option "stop-after" (for its code generator); slc
  // reuses it rather than registering a clashing one.
  auto *stopAfterOption = static_cast<cl::opt<std::string> *>(
      cl::getRegisteredOptions().lookup("stop-after"));
  std::unique_ptr<cl::opt<std::string>> ownStopAfter;
  if (!stopAfterOption) {
    ownStopAfter = std::make_unique<cl::opt<std::string>>("stop-after", cl::init(""));
    stopAfterOption = ownStopAfter.get();
  }
  stopAfterOption->setDescription(
      "Stop after this pass of the pipeline and print the IR (canonicalize, sl-shard-graph (with "
      "--tensor-parallel above 1), sl-fuse-epilogues, "
      "sl-specialize-phases, sl-select-tiles (sl-build-tuning-sweep with --tuning-sweep), "
      "sl-check-kernel-shapes, sl-lower-to-slk, "
      "sl-plan-buffers, sl-emit-cuda)");
  stopAfterOption->setValueStr("pass");
  stopAfterOption->addCategory(category);
  stopAfterOption->setHiddenFlag(cl::NotHidden);
  cl::opt<int64_t> prefillChunk("prefill-chunk",
                                cl::desc("Largest number of tokens of one prefill call"),
                                cl::init(4096), in);
  cl::opt<std::string> tuningDb("tuning-db",
                                cl::desc("Tuning database (JSON lines from sltune) for tile "
                                         "selection; without it, documented heuristics"),
                                cl::init(""), in);
  cl::opt<std::string> gpu("gpu",
                           cl::desc("Tile choices measured on this GPU: the tuning database "
                                    "tuning/<gpu>.jsonl of the source tree (e.g. h200)"),
                           cl::init(""), in);
  cl::opt<bool> tuningSweep(
      "tuning-sweep",
      cl::desc("Write the tile sweep of the model instead of the model: one function per tile "
               "problem and candidate, for sltune (one --target)"),
      cl::init(false), in);
  cl::opt<int64_t> tensorParallel(
      "tensor-parallel",
      cl::desc("Split the model over N ranks (1, 2, 4, 8): one plan per target and rank, "
               "each with its heads and weight slices, an all-reduce per block (docs/parallel.md)"),
      cl::init(1), in);
  cl::opt<int64_t> expertParallel(
      "expert-parallel",
      cl::desc("Split the routed experts over M groups of the N ranks (M divides N; N = M "
               "without --tensor-parallel): rank r holds the experts of group r / (N/M), its "
               "share of their intermediate dimension, and skips the other groups' pairs"),
      cl::init(1), in);
  cl::opt<bool> aot("aot", cl::desc("Ship the NVRTC-compiled cubins in the artifact"),
                    cl::init(false), in);
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "slc compile: sl graph -> passes -> CUDA C++ kernels checked by "
                              "NVRTC -> flatbuffer artifact (.slpkg)\n\n"
                              "  The MLIR options --mlir-print-ir-after-all, "
                              "--mlir-print-ir-before=<pass>,\n  --mlir-print-ir-after=<pass>, "
                              "--mlir-timing, --mlir-print-op-generic are accepted too.\n");
  std::string stopAfter = stopAfterOption->getValue();

  if (emit != "artifact" && emit != "mlir" && emit != "cuda")
    return fail("--emit must be artifact, mlir or cuda, got '" + emit + "'");
  if (!stopAfter.empty()) {
    if (std::find(std::begin(kPipeline), std::end(kPipeline), stopAfter) == std::end(kPipeline))
      return fail("--stop-after: unknown pass '" + stopAfter +
                  "' (see slc compile --help for the pipeline)");
    emit = "mlir";
  }
  std::vector<std::string> targetList = splitList(targets);
  if (targetList.empty())
    return fail("--target needs at least one target such as sm_90a");
  for (size_t i = 0; i < targetList.size(); ++i) {
    if (targetList[i].rfind("sm_", 0) != 0)
      return fail("--target: '" + targetList[i] + "' is not a real GPU architecture (e.g. sm_90a)");
    if (std::find(targetList.begin(), targetList.begin() + i, targetList[i]) !=
        targetList.begin() + i)
      return fail("--target: " + targetList[i] + " is named twice");
  }
  if (prefillChunk < 1 || prefillChunk > kMaxPrefillChunk)
    return fail("--prefill-chunk must be an integer in [1, " + std::to_string(kMaxPrefillChunk) +
                "], got " + std::to_string(prefillChunk));
  if (!gpu.empty()) {
    if (!tuningDb.empty())
      return fail("--gpu picks the committed tuning database: give --gpu or --tuning-db, not both");
    auto path = TuningDatabase::forGpu(SL_TUNING_DIR, gpu);
    if (!path)
      return fail(path.status().message());
    tuningDb = *path;
  }
  if (tuningSweep) {
    if (!tuningDb.empty())
      return fail("--tuning-sweep measures the heuristics' tiles against their candidates: it "
                  "takes no --tuning-db or --gpu");
    if (targetList.size() != 1)
      return fail("--tuning-sweep runs on one GPU: give one --target, got " +
                  std::to_string(targetList.size()));
  }
  if (tensorParallel < 1 || tensorParallel > 64 || (tensorParallel & (tensorParallel - 1)))
    return fail("--tensor-parallel must be a power of two in [1, 64] (1, 2, 4, 8 are the "
                "usual), got " + std::to_string(tensorParallel));
  if (expertParallel < 1 || expertParallel > 64 || (expertParallel & (expertParallel - 1)))
    return fail("--expert-parallel must be a power of two in [1, 64], got " +
                std::to_string(expertParallel));
  // The expert groups partition the tensor-parallel ranks; alone, each group is one rank.
  if (expertParallel.getNumOccurrences() && !tensorParallel.getNumOccurrences())
    tensorParallel = int64_t(expertParallel);
  if (tensorParallel % expertParallel) {
    std::string works;
    for (int64_t m = 1; m <= tensorParallel; m *= 2)
      works += (works.empty() ? "" : ", ") + std::to_string(m);
    return fail("--expert-parallel=" + std::to_string(expertParallel) +
                " must divide the world size --tensor-parallel=" +
                std::to_string(tensorParallel) + " (each expert group is a set of ranks); "
                "values that work: " + works);
  }
  if (tensorParallel > 1 && tuningSweep)
    return fail("--tuning-sweep measures the kernels of one GPU: it takes no --tensor-parallel");
  if (tensorParallel == 1 && stopAfter == "sl-shard-graph")
    return fail("--stop-after=sl-shard-graph: the pass runs with --tensor-parallel above 1");
  // The two passes are alternatives: stopping after the one that does not run would never stop.
  if (stopAfter == (tuningSweep ? "sl-select-tiles" : "sl-build-tuning-sweep"))
    return fail("--stop-after=" + stopAfter + ": the pipeline runs " +
                (tuningSweep ? "sl-build-tuning-sweep" : "sl-select-tiles") +
                (tuningSweep ? " with --tuning-sweep" : " without --tuning-sweep"));
  // Read once here so that a bad database fails before the pipeline runs.
  if (!tuningDb.empty())
    if (auto database = TuningDatabase::load(tuningDb); !database)
      return fail(database.status().message());
  if (emit == "artifact" && output.empty())
    return fail("missing -o <file.slpkg>");
  if (output.empty())
    output = "-";

  DialectRegistry registry;
  registry.insert<mlir::sl::SLDialect, mlir::slk::SLKDialect, func::FuncDialect>();
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  std::string error;
  auto file = openInputFile(input, &error);
  if (!file)
    return fail(error);
  // MLIR's parser recurses once per nesting level: a deeply nested file would overflow its stack.
  if (Status status = checkNesting(file->getBuffer(), input); !status)
    return fail(status.message());
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module)
    return fail("cannot parse " + input + " (see the errors above)");
  if (failed(checkCompilable(*module)))
    return fail("cannot compile " + input + " (see the error above)");

  // The target-independent passes run once; tiles and kernels are chosen per target, on a copy
  // of the module for each (one plan per target in the artifact).
  auto makePassManager = [&]() -> std::unique_ptr<PassManager> {
    auto pm = std::make_unique<PassManager>(&context);
    if (failed(applyPassManagerCLOptions(*pm)))
      return nullptr;
    return pm;
  };
  bool stopped = false;
  // Adds `pass`; true once it is the --stop-after pass (callers chain with || to stop there).
  auto add = [&](PassManager &pm, llvm::StringRef name, std::unique_ptr<Pass> pass) {
    if (pass->getOpName() == func::FuncOp::getOperationName())
      pm.addNestedPass<func::FuncOp>(std::move(pass));
    else
      pm.addPass(std::move(pass));
    stopped = stopAfter == name;
    return stopped;
  };
  auto common = makePassManager();
  if (!common)
    return fail("invalid pass manager options");
  add(*common, "canonicalize", createCanonicalizerPass());
  if (failed(common->run(*module)))
    return fail("compilation of " + input + " failed (see the errors above)");

  // One module per rank (the module itself without --tensor-parallel): sl-shard-graph changes
  // shapes, so it runs before the passes that depend on them.
  std::vector<OwningOpRef<ModuleOp>> rankModules;
  const bool stoppedAfterCanonicalize = stopped;
  for (int64_t rank = 0; rank < tensorParallel; ++rank) {
    rankModules.push_back(tensorParallel == 1 ? std::move(module) : module->clone());
    if (stoppedAfterCanonicalize)
      continue;
    auto pm = makePassManager();
    if (!pm)
      return fail("invalid pass manager options");
    (tensorParallel > 1 &&
     add(*pm, "sl-shard-graph",
         mlir::sl::createSLShardGraph({rank, tensorParallel, expertParallel}))) ||
        add(*pm, "sl-fuse-epilogues", mlir::sl::createSLFuseEpilogues()) ||
        add(*pm, "sl-specialize-phases",
            mlir::sl::createSLSpecializePhases({"forward", prefillChunk}));
    if (failed(pm->run(*rankModules.back())))
      return fail("compilation of " + input +
                  (tensorParallel > 1 ? " for rank " + std::to_string(rank) : std::string()) +
                  " failed (see the errors above)");
  }

  std::vector<OwningOpRef<ModuleOp>> owned;
  std::vector<TargetModule> plans;
  if (stopped) {
    for (int64_t rank = 0; rank < tensorParallel; ++rank)
      plans.push_back({targetList.front(), *rankModules[rank], rank, tensorParallel});
  } else {
    // The ranks of a target follow one another (the artifact's plan order).
    for (const std::string &target : targetList)
      for (int64_t rank = 0; rank < tensorParallel; ++rank) {
        owned.push_back(rankModules[rank]->clone());
        ModuleOp planModule = *owned.back();
        auto pm = makePassManager();
        if (!pm)
          return fail("invalid pass manager options");
        // sl-check-kernel-shapes runs before any kernel exists: an unsupported shape or tile is
        // an error at its op.
        (tuningSweep
             ? add(*pm, "sl-build-tuning-sweep", mlir::sl::createSLBuildTuningSweep({target}))
             : add(*pm, "sl-select-tiles", mlir::sl::createSLSelectTiles({target, tuningDb}))) ||
            add(*pm, "sl-check-kernel-shapes", mlir::sl::createSLCheckKernelShapes()) ||
            add(*pm, "sl-lower-to-slk", mlir::sl::createSLLowerToSLK()) ||
            add(*pm, "sl-plan-buffers", mlir::sl::createSLPlanBuffers()) ||
            add(*pm, "sl-emit-cuda", mlir::sl::createSLEmitCuda());
        if (failed(pm->run(planModule)))
          return fail("compilation of " + input + " for " + target +
                      (tensorParallel > 1 ? " rank " + std::to_string(rank) : std::string()) +
                      " failed (see the errors above)");
        plans.push_back({target, planModule, rank, tensorParallel});
      }
  }

  auto out = openOutputFile(output, &error);
  if (!out)
    return fail(error);
  // With several targets, each plan's IR or kernels follow a header naming the target.
  auto header = [&](const TargetModule &plan) {
    if (plans.size() == 1)
      return;
    out->os() << "// ===== target " << plan.target;
    if (plan.worldSize > 1)
      out->os() << " rank " << plan.rank << " of " << plan.worldSize;
    out->os() << "\n";
  };
  if (emit == "mlir") {
    for (TargetModule plan : plans) {
      header(plan);
      plan.module->print(out->os());
    }
    out->keep();
    return 0;
  }
  if (emit == "cuda") {
    for (TargetModule plan : plans) {
      header(plan);
      for (slk::KernelOp kernel : plan.module.getOps<slk::KernelOp>())
        out->os() << "// ----- kernel " << kernel.getSymName() << " (" << kernel.getThreads()
                  << " threads, " << kernel.getSmem() << " bytes dynamic shared memory)\n"
                  << kernel.getSource().value_or("") << "\n";
    }
    out->keep();
    return 0;
  }

  // Every kernel is compiled for the targets whose plans launch it now, so that a kernel that
  // does not build fails here, naming the kernel, rather than on the GPU machine.
  // (The ranks of a target launch mostly the same kernels: each is compiled once.)
  std::vector<KernelSource> sources;
  std::set<std::pair<std::string, std::string>> compiled;
  for (TargetModule plan : plans)
    for (slk::KernelOp kernel : plan.module.getOps<slk::KernelOp>())
      if (compiled.insert({kernel.getSymName().str(), plan.target}).second)
        sources.push_back(
            {kernel.getSymName().str(), kernel.getSource().value_or("").str(), plan.target});
  auto cubins = compileKernels(sources, std::thread::hardware_concurrency());
  if (!cubins)
    return fail(cubins.status().message());
  ArtifactOptions options{input, aot ? &*cubins : nullptr};
  auto artifact = writeArtifact(plans, options);
  if (!artifact)
    return fail(artifact.status().message());
  out->os().write(reinterpret_cast<const char *>(artifact->data()), artifact->size());
  out->keep();
  return 0;
}

}  // namespace sl::compiler
