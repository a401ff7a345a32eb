// ringgate's subcommands besides serving: `hash-key` and `usage` (see commands.cpp).
#pragma once

#include <string_view>
#include <vector>

namespace rg {

// Each returns the process exit code; `args` are the arguments after the subcommand's name.
int hash_key_command(const std::vector<std::string_view>& args);
int usage_command(const std::vector<std::string_view>& args);

}  // namespace rg
