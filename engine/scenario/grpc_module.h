#pragma once
// The _loadpilot_grpc module (grpc_module.cc) registers itself when its
// object file is linked; calling this from the loader makes sure it is.

namespace loadpilot::scenario {

void link_grpc_module();

}  // namespace loadpilot::scenario
