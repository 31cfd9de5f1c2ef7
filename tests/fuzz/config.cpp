// SPDX-License-Identifier: Apache-2.0
// A config file as a user may write it: options or a config_error, nothing
// else (no other exception, no crash); an error never quotes a password.
#include <unistd.h>

#include <fstream>

#include "dbtrace/error.hpp"
#include "dbtrace/options.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = "/dev/shm/dbtrace-fuzz-config-" + std::to_string(getpid()) + ".conf";
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  try {
    const dbtrace::options o = dbtrace::load_options(path);
    dbtrace::fuzz::must(o.queue_size >= 1 && o.sample_rate >= 0 && o.sample_rate <= 1,
                        "loaded options are in range");
  } catch (const dbtrace::config_error& e) {
    // A password, as key=value or in a URI, anywhere in the file, must not
    // come back (when the marker appears only as a password: as a plain word
    // elsewhere, it is no secret to know).
    const std::string said = e.what();
    const auto count = [&](const std::string& what) {
      std::size_t n = 0;
      for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
      return n;
    };
    const std::size_t as_password = count("password=fuzzSecret") + count(":fuzzSecret@");
    if (as_password > 0 && as_password == count("fuzzSecret"))
      dbtrace::fuzz::must(said.find("fuzzSecret") == std::string::npos,
                          "config errors do not quote passwords");
  }
  return 0;
}
