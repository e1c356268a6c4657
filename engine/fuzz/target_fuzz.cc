// Fuzz target: http::Target::parse (engine/http/target.h), which reads
// `--target` and the plan's target.
//
// Input: the URL text.
//
// Invariants:
//  * failure: nullopt with a message that starts "target: ", the same with
//    and without an error string to fill;
//  * success: scheme "http" or "https"; a non-empty host; a port 1..65535;
//    a base path that is empty or starts with "/" and does not end with
//    one; the Host header value and the base path hold no space or control
//    byte, so neither can break the request head they are written into;
//  * parse -> serialise -> parse: scheme://host_header + base_path parses
//    to the same Target.
#include <string>

#include "fuzz/fuzz_support.h"
#include "http/target.h"

namespace {

using loadpilot::http::Target;

bool same(const Target& a, const Target& b) {
  return a.scheme == b.scheme && a.host == b.host && a.port == b.port &&
         a.base_path == b.base_path && a.host_header == b.host_header;
}

bool printable_no_space(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= ' ' || u == 0x7f) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view url(reinterpret_cast<const char*>(data), size);
  std::string error;
  const auto t = Target::parse(url, &error);
  FUZZ_CHECK(t.has_value() == Target::parse(url, nullptr).has_value(),
             "the result depends on whether an error string is passed");
  if (!t) {
    FUZZ_CHECK(error.starts_with("target: "), "error message: " + error);
    return 0;
  }
  FUZZ_CHECK(error.empty(), "success with an error message: " + error);
  FUZZ_CHECK(t->scheme == "http" || t->scheme == "https", "scheme " + t->scheme);
  FUZZ_CHECK(t->tls() == (t->scheme == "https"), "tls() disagrees with the scheme");
  FUZZ_CHECK(!t->host.empty(), "empty host");
  FUZZ_CHECK(t->port != 0, "port 0");
  FUZZ_CHECK(t->base_path.empty() || (t->base_path.front() == '/' && t->base_path.back() != '/'),
             "base path " + t->base_path);
  FUZZ_CHECK(printable_no_space(t->base_path), "base path " + t->base_path);
  FUZZ_CHECK(!t->host_header.empty() && printable_no_space(t->host_header),
             "Host header " + t->host_header);

  const std::string again = t->scheme + "://" + t->host_header + t->base_path;
  std::string error2;
  const auto u = Target::parse(again, &error2);
  FUZZ_CHECK(u.has_value(), "\"" + again + "\" does not parse: " + error2);
  FUZZ_CHECK(same(*t, *u), "\"" + std::string(url) + "\" and \"" + again + "\" differ");
  return 0;
}
