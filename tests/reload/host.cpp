// SPDX-License-Identifier: Apache-2.0
// Loads a plugin that traces (plugin.cpp), runs it and unloads it, cycle
// after cycle: the process's memory must not grow with the cycles (issue 25:
// ~1.1 MB a cycle was reported). Exits 1, saying the figures, when it does.
//
//   reload_host PLUGIN STORE CYCLES
#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace {

long resident_kb() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: reload_host PLUGIN STORE CYCLES\n");
    return 2;
  }
  const int cycles = std::atoi(argv[3]);
  // The first cycles load the libraries and fill the allocator's pools: the
  // growth is measured over the cycles after them.
  const int warm_up = 5;
  long settled_kb = 0;
  for (int cycle = 1; cycle <= cycles; ++cycle) {
    void* plugin = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!plugin) {
      std::fprintf(stderr, "reload_host: %s\n", dlerror());
      return 1;
    }
    auto* run = reinterpret_cast<int (*)(const char*)>(dlsym(plugin, "run_plugin"));
    if (!run || run(argv[2]) != 0) {
      std::fprintf(stderr, "reload_host: cycle %d: the plugin's spans were not all written\n",
                   cycle);
      return 1;
    }
    dlclose(plugin);
    if (cycle == warm_up) settled_kb = resident_kb();
  }
  const long grown_kb = resident_kb() - settled_kb;
  const long per_cycle_kb = grown_kb / (cycles - warm_up);
  std::printf(
      "reload_host: %d cycles, resident memory grew %ld kB after the first %d (%ld kB a cycle)\n",
      cycles, grown_kb, warm_up, per_cycle_kb);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // A sanitizer keeps freed memory (ASan's quarantine) and shadows all of
  // it: the cycles ran under it, their memory is not judged.
  return 0;
#else
  // A cycle's queue, statement table and writer are given back or reused;
  // what a page or two of allocator slack allows, not 1.1 MB a cycle.
  return per_cycle_kb <= 64 ? 0 : 1;
#endif
}
