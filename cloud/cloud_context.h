// What bt-cloud's handlers and domain objects (Planning, UpdateMerger) share: the model, the block store, the
// registry, the per-edge laws and a few settings. Owned by the daemon, outliving the server. Torch-free.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "common/format/block_store.h"
#include "cloud/store/law_store.h"
#include "cloud/store/model_store.h"
#include "cloud/store/registry.h"
#include "common/base/status.h"
#include "common/plan/window_plan.h"

namespace bt {

struct CloudContext {
  const ModelStore* model = nullptr;
  const BlockStore* blocks = nullptr;
  Registry* registry = nullptr;
  const LawStore* laws = nullptr;
  std::string model_name;
  std::string source_stats_json;         // shipped to edges at registration (empty: none)
  std::vector<int64_t> iteration_grid = IterationGrid();
  uint64_t max_push_bytes = 4ull << 30;  // largest update accepted (all blocks of one push)
  // Streaming calls (PullBlocks, PushUpdate): at most this many open at once, each cancelled after this long
  // without a message read or a chunk written (cloud/stream_watch.h).
  size_t max_streams = 256;
  std::chrono::milliseconds stream_idle_timeout{60'000};
  std::function<int64_t()> now;          // Unix seconds; injectable for tests
  // SHA-256 of the admin token every CloudAdmin call must present ("authorization: Bearer <token>"); empty: every
  // admin call is refused. bt-cloud serve keeps the token in AdminTokenPath(data_dir), mode 0600.
  std::string admin_token_sha256;
};

inline std::string AdminTokenPath(const std::string& data_dir) { return data_dir + "/admin.token"; }

// The admin token of the cloud whose state is in `data_dir`: read from AdminTokenPath, or made (32 random bytes,
// hex) and written there readable by its owner only.
absl::StatusOr<std::string> LoadOrCreateAdminToken(const std::string& data_dir);

// Unix seconds from the context's clock (the system clock unless a test injects one).
inline int64_t NowSeconds(const CloudContext* ctx) {
  return ctx->now ? ctx->now() : static_cast<int64_t>(std::time(nullptr));
}

}  // namespace bt
