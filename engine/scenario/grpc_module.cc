// _loadpilot_grpc: the gRPC calls of Python tasks (loadpilot/_grpc.py)
// get their .proto files, methods and messages from grpc/proto.h through
// this module. Files are parsed once per process and kept for the run
// (keyed by their real path), so a task's call costs one JSON conversion
// each way, not a parse. Errors are ValueError with grpc/proto.h's
// messages (file:line:column, the field's path).
#include "scenario/grpc_module.h"

#include <pybind11/embed.h>
#include <pybind11/stl.h>

#include <filesystem>
#include <map>
#include <mutex>

#include "grpc/framing.h"
#include "grpc/proto.h"

namespace py = pybind11;

namespace loadpilot::scenario {

namespace {

std::shared_ptr<grpc::ProtoFile> load_proto(const std::string& path, const std::string& shown) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<grpc::ProtoFile>> files;
  std::error_code ec;
  std::string key = std::filesystem::weakly_canonical(path, ec).string();
  if (ec) key = path;
  std::lock_guard lock(mu);
  if (auto it = files.find(key); it != files.end()) return it->second;
  auto p = grpc::ProtoFile::load(path, shown);  // throws: nothing kept
  files.emplace(key, p);
  return p;
}

}  // namespace

void link_grpc_module() {}

}  // namespace loadpilot::scenario

PYBIND11_EMBEDDED_MODULE(_loadpilot_grpc, m) {
  using loadpilot::grpc::Method;
  using loadpilot::grpc::ProtoFile;
  // A Method lives as long as its ProtoFile, which the cache keeps for the
  // process: Python holds it by reference.
  py::class_<Method>(m, "Method")
      .def_property_readonly("path", &Method::path)
      .def("encode", [](const Method& method,
                        const std::string& json) { return py::bytes(method.encode(json)); })
      .def("decode", [](const Method& method, const py::bytes& body) {
        const std::string_view b(PyBytes_AS_STRING(body.ptr()),
                                 static_cast<std::size_t>(PyBytes_GET_SIZE(body.ptr())));
        const loadpilot::grpc::Unframed u = loadpilot::grpc::unframe(b);
        if (!u.error.empty()) throw std::invalid_argument(u.error);
        return method.decode(u.message);
      });
  py::class_<ProtoFile, std::shared_ptr<ProtoFile>>(m, "ProtoFile")
      .def("method", &ProtoFile::method, py::return_value_policy::reference_internal)
      .def_property_readonly("files", &ProtoFile::files);
  m.def("load", &loadpilot::scenario::load_proto, py::arg("path"), py::arg("shown"));
}
