#include "grpc/proto.h"

#include <fmt/format.h>
#include <google/protobuf/compiler/importer.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "grpc/framing.h"

namespace loadpilot::grpc {

namespace pb = google::protobuf;
namespace fs = std::filesystem;

namespace {

// Collects the parser's errors as "file:line:column: message" lines.
class Errors : public pb::compiler::MultiFileErrorCollector {
 public:
  explicit Errors(std::string folder) : folder_(std::move(folder)) {}
  void AddError(const std::string& file, int line, int column,
                const std::string& message) override {
    std::string where = folder_.empty() ? file : (fs::path(folder_) / file).string();
    // Lines and columns from the parser count from 0; -1: the whole file.
    if (line >= 0) where += fmt::format(":{}:{}", line + 1, column + 1);
    text += fmt::format("{}{}: {}", text.empty() ? "" : "\n", where, message);
  }
  void AddWarning(const std::string&, int, int, const std::string&) override {}
  std::string text;

 private:
  std::string folder_;
};

// One file held in memory (the demo server's .proto).
class TextTree : public pb::compiler::SourceTree {
 public:
  TextTree(std::string name, std::string text) : name_(std::move(name)), text_(std::move(text)) {}
  pb::io::ZeroCopyInputStream* Open(const std::string& file) override {
    if (file != name_) return nullptr;
    return new pb::io::ArrayInputStream(text_.data(), static_cast<int>(text_.size()));
  }

 private:
  std::string name_, text_;
};

std::string field_list(const pb::Descriptor* d) {
  std::string out;
  for (int i = 0; i < d->field_count(); ++i) {
    if (i) out += ", ";
    out += d->field(i)->name();
  }
  return out.empty() ? "none" : out;
}

bool well_known(const pb::Descriptor* d) { return d->file()->package() == "google.protobuf"; }

// Protobuf's JSON parser says "Cannot find field." without naming it: the
// request is walked first, so the message names the field and its place.
void check_fields(const pb::Descriptor* d, const nlohmann::json& j, const std::string& at) {
  if (!j.is_object()) {
    throw std::invalid_argument(
        fmt::format("{} must be a dict (message {}), not {}", at, d->full_name(), j.type_name()));
  }
  for (const auto& [key, value] : j.items()) {
    const pb::FieldDescriptor* f = nullptr;
    for (int i = 0; i < d->field_count() && !f; ++i) {
      if (d->field(i)->name() == key || d->field(i)->json_name() == key) f = d->field(i);
    }
    if (!f) {
      throw std::invalid_argument(fmt::format("{}.{}: message {} has no field '{}' (fields: {})",
                                              at, key, d->full_name(), key, field_list(d)));
    }
    if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE || value.is_null()) continue;
    const std::string here = at + "." + key;
    if (f->is_map()) {
      const pb::FieldDescriptor* v = f->message_type()->map_value();
      if (!value.is_object() || v->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE ||
          well_known(v->message_type()))
        continue;
      for (const auto& [k, item] : value.items())
        check_fields(v->message_type(), item, fmt::format("{}[{}]", here, k));
    } else if (!well_known(f->message_type())) {
      if (f->is_repeated() && value.is_array()) {
        for (std::size_t i = 0; i < value.size(); ++i)
          check_fields(f->message_type(), value[i], fmt::format("{}[{}]", here, i));
      } else if (!f->is_repeated()) {
        check_fields(f->message_type(), value, here);
      }
    }
  }
}

std::string to_message(const pb::Message& prototype, std::string_view json, const std::string& what,
                       bool check) {
  if (check) {
    nlohmann::json parsed = nlohmann::json::parse(json, nullptr, false);
    if (parsed.is_discarded()) throw std::invalid_argument(what + ": not valid JSON");
    check_fields(prototype.GetDescriptor(), parsed, "request");
  }
  std::unique_ptr<pb::Message> m(prototype.New());
  pb::util::JsonParseOptions options;
  const auto status =
      pb::util::JsonStringToMessage(pb::StringPiece(json.data(), json.size()), m.get(), options);
  if (!status.ok()) {
    throw std::invalid_argument(fmt::format("{} (message {}): {}", what,
                                            prototype.GetDescriptor()->full_name(),
                                            std::string(status.message())));
  }
  std::string out;
  m->SerializeToString(&out);
  return out;
}

std::string to_json(const pb::Message& prototype, std::string_view bytes, const std::string& what) {
  std::unique_ptr<pb::Message> m(prototype.New());
  if (!m->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    throw std::invalid_argument(
        fmt::format("{} is not a valid {} message", what, prototype.GetDescriptor()->full_name()));
  }
  pb::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  const auto status = pb::util::MessageToJsonString(*m, &out, options);
  if (!status.ok()) {
    throw std::invalid_argument(fmt::format("{}: {}", what, std::string(status.message())));
  }
  return out;
}

}  // namespace

std::string Method::encode(std::string_view json) const {
  return frame(to_message(*request_, json, "request of " + name(), true));
}

std::string Method::decode(std::string_view message) const {
  return to_json(*response_, message, "response of " + name());
}

std::string Method::decode_request(std::string_view message) const {
  return to_json(*request_, message, "request of " + name());
}

std::string Method::encode_response(std::string_view json) const {
  return to_message(*response_, json, "response of " + name(), false);
}

ProtoFile::ProtoFile() = default;
ProtoFile::~ProtoFile() = default;

std::shared_ptr<ProtoFile> ProtoFile::load(const std::string& path, const std::string& shown) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    throw std::invalid_argument(fmt::format("{}: proto file not found", shown));
  }
  std::shared_ptr<ProtoFile> p(new ProtoFile());
  const fs::path abs = fs::absolute(path);
  auto tree = std::make_unique<pb::compiler::DiskSourceTree>();
  tree->MapPath("", abs.parent_path().string());
  p->tree_ = std::move(tree);
  p->errors_ = std::make_unique<Errors>(fs::path(shown).parent_path().string());
  p->parse(abs.filename().string(), shown);
  // files() as paths on disk.
  for (std::string& f : p->files_) f = (abs.parent_path() / f).lexically_normal().string();
  return p;
}

std::shared_ptr<ProtoFile> ProtoFile::from_text(const std::string& name, const std::string& text) {
  std::shared_ptr<ProtoFile> p(new ProtoFile());
  p->tree_ = std::make_unique<TextTree>(name, text);
  p->errors_ = std::make_unique<Errors>("");
  p->parse(name, name);
  return p;
}

void ProtoFile::parse(const std::string& file, const std::string& shown) {
  shown_ = shown;
  importer_ = std::make_unique<pb::compiler::Importer>(tree_.get(), errors_.get());
  const pb::FileDescriptor* fd = importer_->Import(file);
  auto& errors = static_cast<Errors&>(*errors_);
  if (!fd || !errors.text.empty()) {
    throw std::invalid_argument(errors.text.empty() ? fmt::format("{}: cannot be parsed", shown)
                                                    : errors.text);
  }
  // This file and its imports, each once, for the bundle of a distributed
  // run (they travel with the scenario).
  std::vector<const pb::FileDescriptor*> todo{fd};
  while (!todo.empty()) {
    const pb::FileDescriptor* f = todo.back();
    todo.pop_back();
    if (f->package() == "google.protobuf" && f->name().rfind("google/protobuf/", 0) == 0) continue;
    const std::string name = f->name();
    if (std::find(names_.begin(), names_.end(), name) != names_.end()) continue;
    names_.push_back(name);
    for (int i = 0; i < f->dependency_count(); ++i) todo.push_back(f->dependency(i));
  }
  files_ = names_;
  factory_ = std::make_unique<pb::DynamicMessageFactory>(importer_->pool());
}

const Method& ProtoFile::method(std::string_view wanted) {
  std::string name(wanted);
  if (!name.empty() && name.front() == '/') name.erase(0, 1);
  std::lock_guard lock(mu_);
  if (auto it = methods_.find(name); it != methods_.end()) return *it->second;
  const auto slash = name.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == name.size()) {
    throw std::invalid_argument(fmt::format(
        "gRPC method '{}' must be written \"package.Service/Method\"", std::string(wanted)));
  }
  const std::string service_name = name.substr(0, slash);
  const std::string method_name = name.substr(slash + 1);
  const pb::DescriptorPool* pool = importer_->pool();
  const pb::ServiceDescriptor* service = pool->FindServiceByName(service_name);
  if (!service) {
    std::string known;
    for (const std::string& file : names_) {
      const pb::FileDescriptor* f = pool->FindFileByName(file);
      for (int i = 0; f && i < f->service_count(); ++i)
        known += (known.empty() ? "" : ", ") + f->service(i)->full_name();
    }
    throw std::invalid_argument(fmt::format("{}: no service '{}' (services: {})", shown_,
                                            service_name, known.empty() ? "none" : known));
  }
  const pb::MethodDescriptor* m = service->FindMethodByName(method_name);
  if (!m) {
    std::string known;
    for (int i = 0; i < service->method_count(); ++i)
      known += (i ? ", " : "") + service->method(i)->name();
    throw std::invalid_argument(fmt::format("{}: service {} has no method '{}' (methods: {})",
                                            shown_, service_name, method_name, known));
  }
  if (m->client_streaming() || m->server_streaming()) {
    throw std::invalid_argument(fmt::format(
        "{}: {}/{} is a streaming method; only unary calls are made (docs/protocols.md#grpc)",
        shown_, service_name, method_name));
  }
  auto method = std::make_unique<Method>();
  method->path_ = "/" + service_name + "/" + method_name;
  method->descriptor_ = m;
  method->request_ = factory_->GetPrototype(m->input_type());
  method->response_ = factory_->GetPrototype(m->output_type());
  return *methods_.emplace(name, std::move(method)).first->second;
}

}  // namespace loadpilot::grpc
