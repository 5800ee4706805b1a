// The executor queue of `slrun serve`: one thread runs, in FIFO order, every request that
// touches model state (sessions, snapshots, generations); the HTTP workers wait for their job.
// See Server.h.
#include "runtime/server/Server.h"

#include <chrono>
#include <exception>

namespace sl::server::detail {

void Job::push(std::string event) {
  std::lock_guard<std::mutex> lock(mutex);
  events.push_back(std::move(event));
  changed.notify_all();
}

void Job::finish() {
  std::lock_guard<std::mutex> lock(mutex);
  finished = true;
  changed.notify_all();
}

void Job::fail(const ApiError &error) {
  status = error.status;
  body = errorBody(error);
}

bool Job::next(std::string *event) {
  std::unique_lock<std::mutex> lock(mutex);
  changed.wait(lock, [&] { return !events.empty() || finished; });
  if (events.empty())
    return false;
  *event = std::move(events.front());
  events.pop_front();
  return true;
}

void Job::wait() {
  std::unique_lock<std::mutex> lock(mutex);
  changed.wait(lock, [&] { return finished; });
}

bool Job::waitFor(double seconds) {
  std::unique_lock<std::mutex> lock(mutex);
  return changed.wait_for(lock, std::chrono::duration<double>(seconds), [&] { return finished; });
}

bool Server::enqueue(const std::shared_ptr<Job> &job) {
  std::lock_guard<std::mutex> lock(queueMutex_);
  if (stopping_ || queue_.size() >= config_.maxQueue)
    return false;
  queue_.push_back(job);
  queueChanged_.notify_one();
  return true;
}

void Server::stopExecutor() {
  std::lock_guard<std::mutex> lock(queueMutex_);
  stopping_ = true;
  if (current_)
    current_->cancelled = true;
  queueChanged_.notify_all();
}

void Server::executorLoop() {
  while (true) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(queueMutex_);
      queueChanged_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_)
        break;
      job = queue_.front();
      queue_.pop_front();
      current_ = job;
    }
    if (!job->cancelled.load()) {
      try {
        job->run(*job);
      } catch (const std::exception &e) {
        job->fail(ApiError{500, std::string("internal error: ") + e.what(), "server_error"});
      }
    }
    job->finish();
    std::lock_guard<std::mutex> lock(queueMutex_);
    current_.reset();
  }
  // Shutting down: nothing queued runs.
  std::lock_guard<std::mutex> lock(queueMutex_);
  for (auto &job : queue_) {
    job->fail(ApiError{503, "the server is shutting down", "server_error"});
    job->finish();
  }
  queue_.clear();
}

}  // namespace sl::server::detail
