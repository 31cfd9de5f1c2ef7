// SPDX-License-Identifier: Apache-2.0
// dbtrace's libraries loaded at run time (dbtrace/detail/library.hpp).
#include <dlfcn.h>
#include <unistd.h>

#include "dbtrace/detail/library.hpp"

namespace dbtrace::detail {
namespace {

// The directory holding the library this function is in: the core's own,
// which is where its sibling libraries are installed (and built).
std::string own_directory() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&own_directory), &info) == 0 || !info.dli_fname) return {};
  const std::string path = info.dli_fname;
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
}

}  // namespace

void* library_symbol(const std::string& file, const std::string& symbol,
                     std::string& error) noexcept try {
  // RTLD_NOW: a missing dependency fails here, named, not at the first call.
  // One there that fails to load says why (a library it needs is missing);
  // only a file not there at all is looked for elsewhere.
  const std::string beside = own_directory() + file;
  const bool is_beside = beside != file && access(beside.c_str(), F_OK) == 0;
  void* handle = dlopen((is_beside ? beside : file).c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    error = why ? why : file + ": cannot be loaded";
    return nullptr;
  }
  dlerror();
  void* address = dlsym(handle, symbol.c_str());
  if (!address) {
    const char* why = dlerror();
    error = why ? why : file + ": no " + symbol;
  }
  return address;
} catch (...) {
  error = file + ": out of memory while loading it";
  return nullptr;
}

}  // namespace dbtrace::detail
