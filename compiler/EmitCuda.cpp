// sl-emit-cuda: the extern "C" wrapper source of every slk.kernel.
#include "compiler/Passes.h"
#include "runtime/kernels/KernelTable.h"

#include "mlir/IR/Builders.h"

namespace mlir::sl {
#define GEN_PASS_DEF_SLEMITCUDA
#include "compiler/Passes.h.inc"

namespace {

struct EmitCuda : impl::SLEmitCudaBase<EmitCuda> {
  void runOnOperation() override {
    Builder builder(&getContext());
    auto result = getOperation().walk([&](slk::KernelOp kernel) {
      const auto *kernelTemplate = ::sl::kernels::findKernel(kernel.getTemplateName().str());
      if (!kernelTemplate) {
        kernel.emitError() << "sl-emit-cuda: unknown kernel template '"
                           << kernel.getTemplateName() << "'";
        return WalkResult::interrupt();
      }
      std::vector<std::string> args;
      for (Attribute arg : kernel.getTemplateArgs())
        args.push_back(llvm::cast<StringAttr>(arg).str());
      kernel.setSourceAttr(builder.getStringAttr(::sl::kernels::wrapperSource(
          *kernelTemplate, args, kernel.getSymName().str(), kernel.getThreadsAttr().getInt())));
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};

}  // namespace
}  // namespace mlir::sl
