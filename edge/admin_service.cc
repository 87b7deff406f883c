#include "edge/admin_service.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "common/base/address.h"
#include "common/wire/grpc_status.h"

namespace bt {

namespace v1 = blocktrainer::v1;

class EdgeAdminServer::Service final : public v1::EdgeAdmin::CallbackService {
 public:
  explicit Service(Calls calls) : calls_(std::move(calls)) {}
  grpc::ServerUnaryReactor* GetEdgeStatus(grpc::CallbackServerContext* context, const v1::GetEdgeStatusRequest*,
                                          v1::EdgeStatus* response) override {
    *response = calls_.status();
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  grpc::ServerUnaryReactor* RetrainNow(grpc::CallbackServerContext* context, const v1::RetrainNowRequest*,
                                       v1::RetrainNowResponse* response) override {
    std::string reason;
    response->set_started(calls_.retrain_now(&reason));
    response->set_message(reason);
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  Calls calls_;
};

absl::StatusOr<std::unique_ptr<EdgeAdminServer>> EdgeAdminServer::Start(const std::string& address, Calls calls) {
  if (!IsLoopbackAddress(address)) {
    return absl::FailedPreconditionError(absl::StrCat("edge.admin_listen '", address, "' must be a loopback address"));
  }
  std::unique_ptr<EdgeAdminServer> server(new EdgeAdminServer());
  server->service_ = std::make_unique<Service>(std::move(calls));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &server->port_);
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (!server->server_ || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on edge.admin_listen '", address, "'"));
  }
  return server;
}

EdgeAdminServer::~EdgeAdminServer() { Stop(); }

void EdgeAdminServer::Stop() {
  if (!server_) return;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server_->Wait();
  server_.reset();
}

absl::StatusOr<v1::EdgeStatus> QueryEdgeStatus(const std::string& address) {
  auto stub = v1::EdgeAdmin::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::EdgeStatus s;
  RETURN_IF_ERROR(FromGrpcStatus(stub->GetEdgeStatus(&context, v1::GetEdgeStatusRequest(), &s),
                                 absl::StrCat("bt-edge admin at ", address)));
  return s;
}

absl::StatusOr<std::string> StartWindowNow(const std::string& address) {
  auto stub = v1::EdgeAdmin::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::RetrainNowResponse response;
  RETURN_IF_ERROR(FromGrpcStatus(stub->RetrainNow(&context, v1::RetrainNowRequest(), &response),
                                 absl::StrCat("bt-edge admin at ", address)));
  if (!response.started()) return absl::FailedPreconditionError(response.message());
  return response.message();
}

}  // namespace bt
