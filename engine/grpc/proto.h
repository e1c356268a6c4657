#pragma once
// ProtoFile: a .proto file parsed at run start, and the unary methods of
// its services, whose messages are built by reflection (protobuf's
// DynamicMessageFactory): no generated code, so a scenario names its
// .proto and calls any method in it. A call's request comes in as JSON
// (the task's dict) and its response goes out as JSON, both in protobuf's
// JSON mapping (docs/protocols.md#grpc).
//
// Errors are std::invalid_argument with a message a user can act on: a
// .proto that does not parse names file:line:column; an unknown service or
// method lists those there are; a request field the message does not have
// is named with its path (request.item.nme) and the fields there are.
//
// Thread-safety: load() and method() may be called from any thread (a
// mutex guards the cache); a Method is immutable, and encode()/decode()
// may run on several threads at once.
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace google::protobuf {
class Descriptor;
class Message;
class MethodDescriptor;
class DynamicMessageFactory;
namespace compiler {
class Importer;
class SourceTree;
class MultiFileErrorCollector;
}  // namespace compiler
}  // namespace google::protobuf

namespace loadpilot::grpc {

// One unary method of a loaded .proto.
class Method {
 public:
  // "/package.Service/Method": the HTTP/2 :path of a call.
  const std::string& path() const { return path_; }
  // "package.Service/Method".
  std::string name() const { return path_.substr(1); }
  // The request message from JSON text, serialised and framed (5-byte
  // prefix): the body of a call. Throws std::invalid_argument naming the
  // field that is wrong.
  std::string encode(std::string_view json) const;
  // The response message (its serialised bytes, unframed) as JSON text,
  // every field present (defaults too), names as in the .proto. Throws
  // std::invalid_argument when the bytes are not that message.
  std::string decode(std::string_view message) const;
  // The same, for the demo server: the request's bytes as JSON, and a
  // response from JSON.
  std::string decode_request(std::string_view message) const;
  std::string encode_response(std::string_view json) const;

 private:
  friend class ProtoFile;
  std::string path_;
  const google::protobuf::MethodDescriptor* descriptor_ = nullptr;
  const google::protobuf::Message* request_ = nullptr;   // prototypes
  const google::protobuf::Message* response_ = nullptr;  // (the factory's)
};

class ProtoFile {
 public:
  // Parses the file at PATH with its imports (looked up beside it). SHOWN
  // is how messages name it (the path as the scenario wrote it). Throws
  // std::invalid_argument: "api.proto:12:5: Expected \";\"." (several
  // errors on separate lines), or that the file cannot be read.
  static std::shared_ptr<ProtoFile> load(const std::string& path, const std::string& shown);
  // The same from text: NAME is the file's name in messages.
  static std::shared_ptr<ProtoFile> from_text(const std::string& name, const std::string& text);
  ~ProtoFile();
  ProtoFile(const ProtoFile&) = delete;
  ProtoFile& operator=(const ProtoFile&) = delete;

  // "package.Service/Method" (a leading '/' is allowed). Throws
  // std::invalid_argument naming what is missing, or a streaming method
  // (only unary calls are made).
  const Method& method(std::string_view name);
  // The files parsed: this one and every import, as paths on disk
  // (from load()) in the order read.
  const std::vector<std::string>& files() const { return files_; }

 private:
  ProtoFile();
  void parse(const std::string& file, const std::string& shown);

  std::string shown_;
  std::vector<std::string> names_;  // as the parser names them
  std::vector<std::string> files_;
  std::unique_ptr<google::protobuf::compiler::SourceTree> tree_;
  std::unique_ptr<google::protobuf::compiler::MultiFileErrorCollector> errors_;
  std::unique_ptr<google::protobuf::compiler::Importer> importer_;
  std::unique_ptr<google::protobuf::DynamicMessageFactory> factory_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Method>, std::less<>> methods_;
};

}  // namespace loadpilot::grpc
