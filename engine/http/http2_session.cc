#include "http/http2_session.h"

#include <fmt/format.h>
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "http/ascii.h"

namespace loadpilot::http {

using Clock = std::chrono::steady_clock;
using metrics::ErrorKind;

namespace {

constexpr std::size_t kFrameHeader = 9;
// Large windows: the client reads as fast as bytes arrive, so a small
// window would only add WINDOW_UPDATE round trips to every large body.
constexpr std::int32_t kStreamWindow = 8 * 1024 * 1024;
constexpr std::int32_t kConnectionWindow = 64 * 1024 * 1024;

std::string code_name(std::uint32_t code) { return nghttp2_http2_strerror(code); }

// Headers that describe an HTTP/1.1 connection, not a message: RFC 9113
// 8.2.2 forbids them in HTTP/2.
bool connection_specific(std::string_view lower_name) {
  for (std::string_view h :
       {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host"})
    if (lower_name == h) return true;
  return false;
}

}  // namespace

struct Http2Session::Stream {
  Http2Request req;
  Clock::time_point deadline{};
  std::string_view body;  // the request's body, inside *req.request
  std::size_t body_sent = 0;
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::pair<std::string, std::string>> trailers;
  std::string kept;
  std::uint64_t body_bytes = 0;
  std::uint64_t pooled = 0;  // bytes of `kept` counted in the pool
  std::uint64_t header_bytes = 0;
  BodyDrop dropped = BodyDrop::kNone;
  std::uint64_t drop_limit = 0;
  std::uint64_t bytes_sent = 0, bytes_received = 0;
  bool complete = false;               // END_STREAM received
  bool response_headers_done = false;  // the final (non-1xx) HEADERS arrived
  bool headers_too_big = false;        // we reset it for that
  bool peer_reset = false;
  std::uint32_t peer_code = 0;
};

struct Http2Session::Callbacks {
  static Http2Session& self(void* user) { return *static_cast<Http2Session*>(user); }
  static Stream* stream(Http2Session& s, std::int32_t id) {
    auto it = s.streams_.find(id);
    return it == s.streams_.end() ? nullptr : it->second.get();
  }

  static int on_begin_frame(nghttp2_session*, const nghttp2_frame_hd* hd, void* user) {
    Http2Session& s = self(user);
    const std::uint64_t n = hd->length + kFrameHeader;
    if (Stream* st = hd->stream_id ? stream(s, hd->stream_id) : nullptr) {
      st->bytes_received += n;
    } else {
      s.overhead_received_ += n;
    }
    return 0;
  }

  static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    Http2Session& s = self(user);
    const std::uint64_t n = frame->hd.length + kFrameHeader;
    if (Stream* st = frame->hd.stream_id ? stream(s, frame->hd.stream_id) : nullptr) {
      st->bytes_sent += n;
      s.unattributed_sent_ -= static_cast<std::int64_t>(n);
    }
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    Http2Session& s = self(user);
    switch (frame->hd.type) {
      case NGHTTP2_SETTINGS:
        if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) s.settings_received_ = true;
        break;
      case NGHTTP2_GOAWAY:
        s.goaway_ = true;
        s.goaway_code_ = frame->goaway.error_code;
        break;
      case NGHTTP2_RST_STREAM:
        if (Stream* st = stream(s, frame->hd.stream_id)) {
          st->peer_reset = true;
          st->peer_code = frame->rst_stream.error_code;
        }
        break;
      case NGHTTP2_HEADERS:
        if (Stream* st = stream(s, frame->hd.stream_id); st && st->status >= 200)
          st->response_headers_done = true;
        [[fallthrough]];
      case NGHTTP2_DATA:
        if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
          if (Stream* st = stream(s, frame->hd.stream_id)) st->complete = true;
        }
        break;
      default:
        break;
    }
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                       std::size_t namelen, const std::uint8_t* value, std::size_t valuelen,
                       std::uint8_t, void* user) {
    Http2Session& s = self(user);
    Stream* st = stream(s, frame->hd.stream_id);
    if (!st) return 0;
    // RFC 7541's size of a header: name, value and 32 bytes of overhead.
    st->header_bytes += namelen + valuelen + 32;
    if (st->header_bytes > ResponseParser::kMaxHeaderBytes) {
      st->headers_too_big = true;
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // resets this stream only
    }
    const std::string_view n(reinterpret_cast<const char*>(name), namelen);
    const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":status") {
      // A 1xx is followed by another HEADERS frame with the final status.
      st->status = 0;
      for (char c : v) st->status = st->status * 10 + (c - '0');  // nghttp2 checked: 3 digits
      st->headers.clear();
      return 0;
    }
    if (!s.options_.keep_response) return 0;
    // A HEADERS frame after the final response's is the trailers (RFC 9113
    // 8.1): gRPC's status travels there.
    if (st->response_headers_done) {
      st->trailers.emplace_back(n, v);
    } else {
      st->headers.emplace_back(n, v);
    }
    return 0;
  }

  static int on_data_chunk(nghttp2_session*, std::uint8_t, std::int32_t id,
                           const std::uint8_t* data, std::size_t len, void* user) {
    Http2Session& s = self(user);
    Stream* st = stream(s, id);
    if (!st) return 0;
    st->body_bytes += len;
    if (!s.options_.keep_response || st->dropped != BodyDrop::kNone) return 0;
    KeptBodies* pool = s.options_.pool;
    if (st->kept.size() + len > st->req.keep_limit) {
      s.drop(*st, BodyDrop::kOverCap, st->req.keep_limit);
    } else if (pool && pool->limit != 0 &&
               pool->held + len > std::max(pool->limit, st->req.keep_limit)) {
      s.drop(*st, BodyDrop::kOverTotal, std::max(pool->limit, st->req.keep_limit));
    } else {
      st->kept.append(reinterpret_cast<const char*>(data), len);
      st->pooled += len;
      if (pool) pool->held += len;
    }
    return 0;
  }

  static int on_stream_close(nghttp2_session*, std::int32_t id, std::uint32_t code, void* user) {
    self(user).end_stream(id, code);
    return 0;
  }

  static ssize_t read_body(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length,
                           std::uint32_t* flags, nghttp2_data_source* source, void*) {
    Stream& st = *static_cast<Stream*>(source->ptr);
    const std::size_t n = std::min(length, st.body.size() - st.body_sent);
    std::memcpy(buf, st.body.data() + st.body_sent, n);
    st.body_sent += n;
    if (st.body_sent == st.body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }
};

Http2Session::Http2Session(const Target& target, Http2SessionOptions options)
    : target_(target), options_(options) {
  if (options_.max_streams == 0) options_.max_streams = kDefaultMaxStreams;
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_begin_frame_callback(cbs, &Callbacks::on_begin_frame);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, &Callbacks::on_frame_send);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &Callbacks::on_frame_recv);
  nghttp2_session_callbacks_set_on_header_callback(cbs, &Callbacks::on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &Callbacks::on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &Callbacks::on_stream_close);
  nghttp2_session_client_new(&session_, cbs, this);
  nghttp2_session_callbacks_del(cbs);

  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<std::uint32_t>(kStreamWindow)},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
  authority_ = target_.host_header;
}

Http2Session::~Http2Session() {
  for (auto& [id, st] : streams_) release(*st);
  nghttp2_session_del(session_);
}

std::uint32_t Http2Session::stream_limit() const {
  const std::uint32_t server =
      nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  return std::min(options_.max_streams, server);
}

bool Http2Session::can_submit() const {
  return !failed_ && !goaway_ && streams_.size() < stream_limit() &&
         nghttp2_session_get_next_stream_id(session_) <= (1u << 31) - 1 &&
         nghttp2_session_check_request_allowed(session_);
}

bool Http2Session::finished_session() const {
  return failed_ || (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_));
}

void Http2Session::submit(Http2Request&& r, Clock::time_point now) {
  auto st = std::make_unique<Stream>();
  st->req = std::move(r);
  st->deadline = now + options_.timeout;
  const std::string_view raw(*st->req.request);

  // The request as build_request() wrote it: "METHOD TARGET HTTP/1.1",
  // header lines, a blank line, the body.
  const auto line_end = raw.find("\r\n");
  const auto head_end = raw.find("\r\n\r\n");
  const auto sp1 = raw.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : raw.find(' ', sp1 + 1);
  if (line_end == std::string_view::npos || head_end == std::string_view::npos ||
      sp2 == std::string_view::npos || sp2 > line_end) {
    Finished f;
    f.result.error = ErrorKind::kProtocol;
    f.result.error_message = "request is not an HTTP/1.1 message";
    f.result.done_at = f.result.sent_at = now;
    f.req = std::move(st->req);
    finished_.push_back(std::move(f));
    return;
  }
  const std::string_view method = raw.substr(0, sp1);
  const std::string_view path = raw.substr(sp1 + 1, sp2 - sp1 - 1);
  st->body = raw.substr(head_end + 4);

  std::vector<std::string> lower;  // lower-cased names; nghttp2 copies them
  std::vector<std::pair<std::string_view, std::string_view>> fields;
  std::string_view authority = authority_;
  std::size_t pos = line_end + 2;
  while (pos < head_end) {
    const auto eol = raw.find("\r\n", pos);
    const std::string_view line = raw.substr(pos, eol - pos);
    pos = eol + 2;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name = ascii_lower(line.substr(0, colon));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (name == "host") authority = value;
    if (connection_specific(name) || (name == "te" && !iequals(value, "trailers"))) continue;
    lower.push_back(std::move(name));
    fields.emplace_back(std::string_view{}, value);
  }
  auto nv_of = [](std::string_view n, std::string_view v) {
    return nghttp2_nv{reinterpret_cast<std::uint8_t*>(const_cast<char*>(n.data())),
                      reinterpret_cast<std::uint8_t*>(const_cast<char*>(v.data())), n.size(),
                      v.size(), NGHTTP2_NV_FLAG_NONE};
  };
  std::vector<nghttp2_nv> nva;
  nva.reserve(4 + fields.size());
  nva.push_back(nv_of(":method", method));
  nva.push_back(nv_of(":scheme", target_.scheme));
  nva.push_back(nv_of(":authority", authority));
  nva.push_back(nv_of(":path", path));
  for (std::size_t i = 0; i < fields.size(); ++i) nva.push_back(nv_of(lower[i], fields[i].second));

  nghttp2_data_provider provider{};
  provider.source.ptr = st.get();
  provider.read_callback = &Callbacks::read_body;
  const bool has_body = !st->body.empty();
  const std::int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(),
                                                 has_body ? &provider : nullptr, nullptr);
  if (id < 0) {
    Finished f;
    f.result.error = ErrorKind::kProtocol;
    f.result.error_message =
        fmt::format("HTTP/2 request refused by nghttp2: {}", nghttp2_strerror(id));
    f.result.done_at = f.result.sent_at = now;
    f.req = std::move(st->req);
    finished_.push_back(std::move(f));
    return;
  }
  if (st->req.sent_at == Clock::time_point{}) st->req.sent_at = now;
  streams_.emplace(id, std::move(st));
}

bool Http2Session::feed(const std::uint8_t* data, std::size_t n) {
  if (failed_) return false;
  const ssize_t rv = nghttp2_session_mem_recv(session_, data, n);
  if (rv < 0) {
    failed_ = true;
    error_ = rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC || rv == NGHTTP2_ERR_PROTO
                 ? "HTTP/2 protocol error from server"
                 : fmt::format("HTTP/2: {}", nghttp2_strerror(static_cast<int>(rv)));
    // Not HTTP/2 at all: an HTTP/1.x server answering the preface.
    if (n >= 5 && std::memcmp(data, "HTTP/", 5) == 0) {
      error_ =
          "the server answered in HTTP/1.x: it does not speak HTTP/2 with prior knowledge "
          "(h2c); use http_version=\"1.1\" for this target";
    }
    return false;
  }
  return true;
}

bool Http2Session::take_output(std::string& out) {
  if (failed_) return false;
  for (;;) {
    const std::uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      failed_ = true;
      error_ = fmt::format("HTTP/2: {}", nghttp2_strerror(static_cast<int>(n)));
      return false;
    }
    if (n == 0) break;
    unattributed_sent_ += n;
    out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
  }
  return true;
}

Clock::time_point Http2Session::expire(Clock::time_point now) {
  while (!streams_.empty()) {
    auto it = streams_.begin();
    Stream& st = *it->second;
    if (st.deadline > now) return st.deadline;
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, it->first, NGHTTP2_CANCEL);
    Finished f;
    f.result.error = ErrorKind::kTimeout;
    f.result.error_message =
        st.status == 0 && st.bytes_received == 0
            ? fmt::format("no response within {} ms", options_.timeout.count())
            : fmt::format("response not complete within {} ms (after {} body bytes)",
                          options_.timeout.count(), st.body_bytes);
    finish(st, std::move(f));
    // nghttp2 may still hold the stream's body reader until the reset is
    // sent: the Stream lives until nghttp2 closes it (end_stream).
    cancelled_.emplace(it->first, std::move(it->second));
    streams_.erase(it);
  }
  return Clock::time_point::max();
}

void Http2Session::fail_all(ErrorKind kind, const std::string& message) {
  failed_ = true;
  while (!streams_.empty()) {
    auto it = streams_.begin();
    Finished f;
    f.result.error = kind;
    f.result.error_message = message;
    finish(*it->second, std::move(f));
    streams_.erase(it);
  }
}

std::vector<Http2Session::Finished> Http2Session::take_finished() {
  std::vector<Finished> out;
  out.swap(finished_);
  return out;
}

void Http2Session::drop(Stream& st, BodyDrop why, std::uint64_t limit) {
  st.dropped = why;
  st.drop_limit = limit;
  release(st);
  std::string().swap(st.kept);
}

void Http2Session::release(Stream& st) {
  if (options_.pool && st.pooled) options_.pool->held -= std::min(options_.pool->held, st.pooled);
  st.pooled = 0;
}

void Http2Session::end_stream(std::int32_t id, std::uint32_t code) {
  cancelled_.erase(id);
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  Stream& st = *it->second;
  Finished f;
  if (st.complete && st.status >= 200) {
    f.result.status = st.status;
  } else if (st.headers_too_big) {
    f.result.error = ErrorKind::kProtocol;
    f.result.error_message =
        fmt::format("response headers over {} bytes", ResponseParser::kMaxHeaderBytes);
  } else if (code == NGHTTP2_REFUSED_STREAM) {
    f.refused = true;
    f.result.error = ErrorKind::kStreamReset;
    f.result.error_message = goaway_
                                 ? "stream not processed: the server sent GOAWAY (REFUSED_STREAM)"
                                 : "stream refused by server (REFUSED_STREAM)";
  } else if (st.peer_reset) {
    f.result.error = ErrorKind::kStreamReset;
    f.result.error_message = fmt::format("stream reset by server ({})", code_name(st.peer_code));
  } else {
    // nghttp2 reset it: the response broke HTTP/2's message rules (no
    // :status, a body longer than its content-length...).
    f.result.error = ErrorKind::kProtocol;
    f.result.error_message = fmt::format("invalid HTTP/2 response ({})", code_name(code));
  }
  finish(st, std::move(f));
  streams_.erase(it);
}

void Http2Session::finish(Stream& st, Finished&& f) {
  Result& r = f.result;
  r.http_version = 20;
  r.body_bytes = st.body_bytes;
  if (!r.error && options_.keep_response) {
    r.headers = std::move(st.headers);
    r.trailers = std::move(st.trailers);
    r.body = std::move(st.kept);
    r.body_dropped = st.dropped;
    if (st.dropped != BodyDrop::kNone) r.body_limit = st.drop_limit;
  }
  release(st);
  // Connection-level bytes so far ride with this request.
  const std::int64_t extra_sent = std::max<std::int64_t>(unattributed_sent_, 0);
  unattributed_sent_ -= extra_sent;
  r.bytes_sent = st.bytes_sent + static_cast<std::uint64_t>(extra_sent);
  r.bytes_received = st.bytes_received + overhead_received_;
  overhead_received_ = 0;
  if (r.status >= 400) r.request_line = request_label(*st.req.request);
  r.sent_at = st.req.sent_at;
  r.done_at = Clock::now();
  if (r.sent_at == Clock::time_point{}) r.sent_at = r.done_at;
  f.req = std::move(st.req);
  finished_.push_back(std::move(f));
}

}  // namespace loadpilot::http
