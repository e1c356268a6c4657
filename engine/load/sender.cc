#include "load/sender.h"

#include <string>
#include <vector>

#include "http/request.h"

namespace loadpilot::load {

namespace {

class HttpSender : public Sender {
 public:
  HttpSender(boost::asio::io_context& io, const plan::Plan& plan, const http::Target& target,
             http::ClientOptions options)
      : client_(io, target, options) {
    for (const plan::TaskSpec& t : plan.tasks) {
      const plan::HttpRequestSpec req = t.request.value_or(plan::HttpRequestSpec{});
      requests_.push_back(std::make_shared<const std::string>(
          http::build_request(target, req.method, req.path, req.headers, req.body)));
      head_.push_back(req.method == "HEAD");
    }
  }

  void send(std::uint32_t task, Callback cb) override {
    client_.send(requests_[task], head_[task], std::move(cb));
  }
  std::size_t busy() const override { return client_.busy_connections() + client_.queued(); }
  // HTTP/2: connections times streams, known once the server's SETTINGS came.
  std::size_t capacity() const override { return std::max<std::size_t>(1, client_.capacity()); }
  std::size_t open_connections() const override { return client_.open_connections(); }
  void close() override { client_.close(); }

 private:
  http::Client client_;
  std::vector<std::shared_ptr<const std::string>> requests_;  // per task
  std::vector<bool> head_;
};

}  // namespace

std::unique_ptr<Sender> make_http_sender(boost::asio::io_context& io, const plan::Plan& plan,
                                         const http::Target& target, http::ClientOptions options) {
  return std::make_unique<HttpSender>(io, plan, target, options);
}

}  // namespace loadpilot::load
