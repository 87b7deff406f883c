// Network address helpers shared by both daemons. Torch- and gRPC-free.
#pragma once

#include <string>

namespace bt {

// Whether `address` ("host:port", "[v6]:port", "localhost:port") names a loopback interface. Plaintext gRPC is
// allowed only there.
bool IsLoopbackAddress(const std::string& address);

}  // namespace bt
