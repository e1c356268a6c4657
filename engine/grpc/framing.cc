#include "grpc/framing.h"

#include <fmt/format.h>


#include "http/ascii.h"
#include "http/grpc_status.h"

namespace loadpilot::grpc {

namespace {

constexpr std::size_t kPrefix = 5;

const std::string* find(const http::Headers& h, std::string_view name) {
  for (const auto& [k, v] : h)
    if (http::iequals(k, name)) return &v;
  return nullptr;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string code_name(int code) {
  if (const std::string_view name = http::grpc_status_name(code); !name.empty())
    return std::string(name);
  return fmt::format("CODE_{}", code);
}

std::string frame(std::string_view message) {
  std::string out;
  out.reserve(kPrefix + message.size());
  const auto n = static_cast<std::uint32_t>(message.size());
  out.push_back('\0');
  out.push_back(static_cast<char>(n >> 24));
  out.push_back(static_cast<char>(n >> 16));
  out.push_back(static_cast<char>(n >> 8));
  out.push_back(static_cast<char>(n));
  out.append(message);
  return out;
}

Unframed unframe(std::string_view body) {
  Unframed u;
  if (body.size() < kPrefix) {
    u.error = body.empty()
                  ? "gRPC response without a message"
                  : fmt::format("gRPC message prefix cut short ({} of 5 bytes)", body.size());
    return u;
  }
  const auto b = [&](std::size_t i) { return static_cast<std::uint8_t>(body[i]); };
  const std::uint32_t n = (std::uint32_t{b(1)} << 24) | (std::uint32_t{b(2)} << 16) |
                          (std::uint32_t{b(3)} << 8) | std::uint32_t{b(4)};
  if (b(0) == 1) {
    u.error = "gRPC message compressed, though no compression was offered";
    return u;
  }
  if (b(0) != 0) {
    u.error = fmt::format("gRPC message flag {} is neither 0 nor 1", b(0));
    return u;
  }
  const std::size_t rest = body.size() - kPrefix;
  if (rest < n) {
    u.error = fmt::format("gRPC message cut short ({} of {} bytes)", rest, n);
    return u;
  }
  if (rest > n) {
    u.error = "gRPC unary response with more than one message";
    return u;
  }
  u.message = body.substr(kPrefix, n);
  return u;
}

std::string percent_encode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e || c == '%') {
      out += fmt::format("%{:02X}", u);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::optional<Status> status_of(const http::Headers& headers, const http::Headers& trailers,
                                std::string* error) {
  const http::Headers* from = &trailers;
  const std::string* code = find(trailers, "grpc-status");
  if (!code) {
    from = &headers;
    code = find(headers, "grpc-status");
  }
  if (!code) {
    *error = "gRPC response without grpc-status";
    return std::nullopt;
  }
  if (code->empty() || code->size() > 10) {
    *error = fmt::format("gRPC response with grpc-status '{}'", *code);
    return std::nullopt;
  }
  std::int64_t value = 0;
  for (char c : *code) {
    if (c < '0' || c > '9') {
      *error = fmt::format("gRPC response with grpc-status '{}'", *code);
      return std::nullopt;
    }
    value = value * 10 + (c - '0');
  }
  if (value > 0x7fffffff) {
    *error = fmt::format("gRPC response with grpc-status '{}'", *code);
    return std::nullopt;
  }
  Status s;
  s.code = static_cast<int>(value);
  if (const std::string* m = find(*from, "grpc-message")) s.message = percent_decode(*m);
  return s;
}

namespace {

bool grpc_type(std::string_view type) {
  return type.size() >= 16 && http::iequals(type.substr(0, 16), "application/grpc") &&
         (type.size() == 16 || type[16] == '+' || type[16] == ';');
}

}  // namespace

bool is_call(const http::Headers& headers) {
  const std::string* type = find(headers, "content-type");
  return type && grpc_type(*type);
}

std::optional<int> judge(http::Result& r, std::string_view path) {
  if (r.error) return std::nullopt;
  const auto protocol = [&](std::string message) {
    r.error = metrics::ErrorKind::kProtocol;
    r.error_message = std::move(message);
  };
  if (r.http_version != 20) {
    protocol(
        "gRPC needs HTTP/2, and this target was spoken to in HTTP/1.1: use "
        "@scenario(http_version=\"2\") (or --http2) for an http:// target");
    return std::nullopt;
  }
  if (r.status >= 400) return std::nullopt;  // http_4xx / http_5xx
  if (r.status != 200) {
    protocol(fmt::format("gRPC answered with HTTP {} {}", r.status, path));
    return std::nullopt;
  }
  const std::string* type = find(r.headers, "content-type");
  if (!type || !grpc_type(*type)) {
    protocol(fmt::format("gRPC answered with content-type '{}' {}", type ? *type : "", path));
    return std::nullopt;
  }
  std::string why;
  const std::optional<Status> status = status_of(r.headers, r.trailers, &why);
  if (!status) {
    protocol(fmt::format("{} {}", why, path));
    return std::nullopt;
  }
  if (status->code != kOk) {
    r.error = metrics::ErrorKind::kGrpc;
    r.error_message = fmt::format("gRPC {} ({}) {}", code_name(status->code), status->code, path);
    return status->code;
  }
  if (r.body_dropped == http::BodyDrop::kNone) {
    const Unframed u = unframe(r.body);
    if (!u.error.empty()) {
      protocol(fmt::format("{} {}", u.error, path));
      return status->code;
    }
  }
  return status->code;
}

}  // namespace loadpilot::grpc
