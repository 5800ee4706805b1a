// Sessions of `slrun serve`: the table of conversations by id (least recently used evicted at
// --max-sessions), the memory they may take, and their snapshots (save, restore, load). See
// Server.h.
#include "runtime/server/Server.h"

#include "runtime/app/Backends.h"
#include "runtime/core/MemoryBudget.h"

namespace sl::server::detail {

Status Server::checkSessionsFit() const {
  const runtime::Artifact &artifact = model_->model->artifact();
  auto state = runtime::sessionBytes(artifact, config_.model.capacity);
  if (!state)
    return Status::error("--max-context: " + state.status().message());
  const uint64_t sessions = config_.maxSessions + 1;
  // Checkpoints (Mamba states at turn boundaries) stay on the host on either backend.
  auto checkpoints = runtime::mulBytes(state->mambaState, Conversation::kMaxCheckpoints);
  auto backend = runtime::selectBackend(config_.model.device);
  if (!backend)
    return backend.status();
  auto onHost = (*backend)->hostMemory
                    ? (checkpoints ? runtime::addBytes(state->total(), *checkpoints) : std::nullopt)
                    : (checkpoints ? runtime::addBytes(state->stripeTables, *checkpoints)
                                   : std::nullopt);
  auto hostTotal = onHost ? runtime::mulBytes(*onHost, sessions) : std::nullopt;
  std::string what = "--max-sessions " + std::to_string(config_.maxSessions) +
                     " (+1 for requests without a session) x --max-context " +
                     std::to_string(config_.model.capacity) + " tokens";
  if (!hostTotal)
    return Status::error(what + " needs more bytes than 64 bits count");
  if (Status status = runtime::checkFits(what + " (state and checkpoints)", *hostTotal,
                                         runtime::availableHostBytes(), "host memory");
      !status)
    return Status::error(status.message() + "; lower --max-sessions or --max-context");
  if (auto memory = model_->engine->executor().deviceMemory()) {
    // One GPU's share: a tensor-parallel group's GPU holds its rank's heads.
    auto perDevice = artifact.worldSize() > 1
                         ? runtime::sessionBytes(artifact, config_.model.capacity,
                                                 &model_->engine->executor().plan())
                         : state;
    if (!perDevice)
      return Status::error("--max-context: " + perDevice.status().message());
    auto deviceTotal = runtime::mulBytes(perDevice->total(), sessions);
    if (deviceTotal)
      if (Status status = runtime::checkFits(what + " (session state)", *deviceTotal,
                                             memory->first, "device memory");
          !status)
        return Status::error(status.message() + "; lower --max-sessions or --max-context");
  }
  return Status::success();
}

std::shared_ptr<SessionEntry> Server::sessionFor(const std::string &id, bool create) {
  std::lock_guard<std::mutex> lock(sessionMutex_);
  auto it = sessions_.find(id);
  if (it != sessions_.end())
    return it->second;
  if (!create)
    return nullptr;
  if (sessions_.size() >= config_.maxSessions) {
    auto oldest = sessions_.begin();
    for (auto candidate = sessions_.begin(); candidate != sessions_.end(); ++candidate)
      if (candidate->second->lastUsed < oldest->second->lastUsed)
        oldest = candidate;
    logLine("evicting session '" + oldest->first + "' (--max-sessions " +
            std::to_string(config_.maxSessions) + ")");
    sessions_.erase(oldest);
  }
  auto entry = std::make_shared<SessionEntry>();
  entry->id = id;
  entry->conversation = std::make_unique<Conversation>(*model_);
  entry->created = entry->lastUsed = unixTime();
  sessions_[id] = entry;
  return entry;
}

json Server::sessionJson(const SessionEntry &entry) {
  return {{"id", entry.id},           {"object", "session"},
          {"tokens", entry.tokens},   {"turns", entry.turns},
          {"created", entry.created}, {"last_used", entry.lastUsed}};
}

void Server::handleSnapshot(const http::Request &req, http::Response &res,
                            const std::string &pathId, bool save, const std::string &nameFromPath) {
  nlohmann::ordered_json body = nlohmann::ordered_json::object();
  ApiError error;
  if (!req.body.empty() && !parseRequestBody(req.body, RequestLimits{}, &body, &error))
    return sendError(res, error);
  std::string name = nameFromPath, sessionId = pathId;
  auto text = [&](const char *key, std::string *out) {
    auto it = body.find(key);
    if (it == body.end() || !it->is_string())
      return false;
    *out = it->get<std::string>();
    return true;
  };
  if (name.empty() && !text("name", &name))
    return sendError(res, badRequest("'name' (a string) is required", "name"));
  if (sessionId.empty() && !text("session_id", &sessionId))
    return sendError(res, badRequest("'session_id' (a string) is required", "session_id"));
  if (!validSnapshotName(name))
    return sendError(res, badRequest("invalid snapshot name '" + name +
                                         "' (1-128 of A-Z a-z 0-9 . _ -, no leading dot)",
                                     "name"));
  if (!validId(sessionId))
    return sendError(res, badRequest("invalid session id", "session_id"));
  if (save && !sessionFor(sessionId, false))
    return sendError(res, ApiError{404, "no session '" + sessionId + "'", "invalid_request_error",
                                   "session_id", "session_not_found"});
  auto job = std::make_shared<Job>();
  job->run = [this, save, sessionId, name](Job &self) {
    if (save) {
      auto entry = sessionFor(sessionId, false);
      if (!entry)
        return self.fail(ApiError{404, "no session '" + sessionId + "'", "invalid_request_error",
                                  "session_id", "session_not_found"});
      SnapshotStatus status = saveSnapshot(*model_, *entry->conversation, config_.snapshotDir, name,
                                           {{"session_id", sessionId}}, config_.snapshots);
      if (status.error == SnapshotError::full)
        return self.fail(ApiError{507, status.message, "invalid_request_error", "name",
                                  "snapshot_storage_full"});
      if (!status.ok())
        return self.fail(ApiError{status.error == SnapshotError::invalid ? 400 : 500,
                                  status.message, "server_error"});
      logLine("saved session '" + sessionId + "' to " + snapshotPath(config_.snapshotDir, name));
      self.body = {{"object", "session.snapshot"},
                   {"session_id", sessionId},
                   {"name", name},
                   {"tokens", entry->conversation->session().length()},
                   {"fingerprint", fingerprintHex(model_->fingerprint)}};
      return;
    }
    auto conversation = std::make_unique<Conversation>(*model_);
    json meta;
    SnapshotStatus status =
        loadSnapshot(*model_, *conversation, config_.snapshotDir, name, &meta, config_.snapshots);
    if (!status.ok()) {
      switch (status.error) {
      case SnapshotError::notFound:
        return self.fail(ApiError{404, status.message, "invalid_request_error", "name",
                                  "snapshot_not_found"});
      case SnapshotError::foreignModel:
        return self.fail(ApiError{409, status.message, "invalid_request_error", "name",
                                  "snapshot_model_mismatch"});
      case SnapshotError::invalid:
        return self.fail(ApiError{400, status.message, "invalid_request_error", "name",
                                  "invalid_snapshot"});
      default:
        return self.fail(ApiError{500, status.message, "server_error"});
      }
    }
    auto entry = sessionFor(sessionId, true);
    std::lock_guard<std::mutex> lock(sessionMutex_);
    entry->conversation = std::move(conversation);
    entry->tokens = entry->conversation->session().length();
    entry->lastUsed = unixTime();
    logLine("restored session '" + sessionId + "' from snapshot '" + name + "'");
    self.body = sessionJson(*entry);
    self.body["restored_from"] = name;
  };
  if (!enqueue(job))
    return sendError(res, ApiError{429, "the server is busy (--max-queue); retry later",
                                   "rate_limit_error", "", "rate_limit_exceeded"});
  job->wait();
  sendJson(res, job->body, job->status);
}

}  // namespace sl::server::detail
