// Status helpers shared by every BlockTrainer component.
//
// Errors are values: functions return absl::Status or absl::StatusOr<T>. The codes are gRPC's, so a status
// crosses the wire unchanged (see ToGrpcStatus in the transport code). Debian's Abseil (20220623) predates the
// official status macros, so the two we need live here.
#pragma once

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

#define BT_STATUS_CONCAT_INNER(a, b) a##b
#define BT_STATUS_CONCAT(a, b) BT_STATUS_CONCAT_INNER(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    ::absl::Status bt_status_ = (expr);            \
    if (!bt_status_.ok()) return bt_status_;       \
  } while (false)

// `ASSIGN_OR_RETURN(auto x, Foo());` declares/assigns `x` from a StatusOr or returns its error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  BT_ASSIGN_OR_RETURN_IMPL(BT_STATUS_CONCAT(bt_statusor_, __LINE__), lhs, expr)
#define BT_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()

namespace bt {

// Prefixes `status`'s message with `context` (e.g. a file or key path), keeping the code.
inline absl::Status Annotate(const absl::Status& status, const std::string& context) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(context, ": ", status.message()));
}

}  // namespace bt
