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
    // A password, as key=value or in a URI, anywhere in the file, must not come back.
    const std::string said = e.what();
    if (text.find("password=fuzzSecret") != std::string::npos ||
        text.find(":fuzzSecret@") != std::string::npos)
      dbtrace::fuzz::must(said.find("fuzzSecret") == std::string::npos,
                          "config errors do not quote passwords");
  }
  return 0;
}
