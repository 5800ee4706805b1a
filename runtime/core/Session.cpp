#include "runtime/core/Session.h"

#include "runtime/math/SuperlinearMath.h"

namespace sl::runtime {

using sl::schema::DType;
using sl::schema::StateKind;

int64_t dtypeBytes(DType dtype) {
  switch (dtype) {
  case DType::f32:
  case DType::i32:
    return 4;
  case DType::f16:
  case DType::bf16:
    return 2;
  case DType::i64:
    return 8;
  }
  return 4;
}

Session::Session(const Artifact &artifact, int64_t capacity, bool hostState)
    : artifact_(artifact), capacity_(capacity), hostState_(hostState) {
  reset();
}

void Session::restoreLength(int64_t length) {
  if (length < 0 || length > capacity_)
    length = length < 0 ? 0 : capacity_;
  length_ = length;
}

void Session::reset() {
  length_ = 0;
  states_.clear();
  for (const auto *slot : *artifact_.root().states()) {
    StateBuffers state;
    if (slot->kind() == StateKind::kv_cache) {
      state.kBytes = size_t(slot->kv_heads()) * capacity_ * slot->head_dim() *
                     dtypeBytes(slot->dtype());
      if (hostState_) {
        state.k.assign(state.kBytes, 0);
        state.v.assign(state.kBytes, 0);
      }
      if (const auto *msa = slot->msa()) {
        // Every stripe whose anchor can exist below the capacity, plus one past it. The offsets
        // rise by at least 1 per stripe (search_power < 1), so capacity + 2 stripes reach past
        // it: the bound only stops an artifact whose configuration breaks that.
        for (int64_t i = 0; i <= capacity_ + 1; ++i) {
          int64_t offset =
              sl::math::floorPower(msa->sw_index() + 1 + i, msa->search_power()) - 1;
          state.anchorOffsets.push_back(offset);
          if (offset > capacity_)
            break;
        }
      }
    } else {
      int64_t channels = int64_t(slot->heads()) * slot->head_dim() +
                         2 * int64_t(slot->groups()) * slot->state_size();
      state.convBytes =
          size_t(channels) * (slot->conv_kernel() - 1) * dtypeBytes(slot->dtype());
      state.ssmBytes = size_t(slot->heads()) * slot->head_dim() * slot->state_size() *
                       dtypeBytes(slot->ssm_dtype());
      if (hostState_) {
        state.conv.assign(state.convBytes, 0);
        state.ssm.assign(state.ssmBytes, 0);
      }
    }
    states_.push_back(std::move(state));
  }
}

}  // namespace sl::runtime
