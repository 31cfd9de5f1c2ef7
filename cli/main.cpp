// The `dbtrace` command: list stored traces and show one, from any store.
// Exit codes: 0 done, 1 no such trace or the store cannot be read, 2 a usage
// or configuration error.
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "dbtrace/dbtrace.hpp"
#include "dbtrace/driver.hpp"
#include "dbtrace/report.hpp"

namespace {

// --connection-string, else DBTRACE_CONNECTION_STRING, else OSPROFILER_CONNECTION_STRING,
// else the connection_string of --config, else the embedded default.
std::string store_location(const std::string& flag, const std::string& config_file) {
  if (!flag.empty()) return flag;
  for (const char* var : {"DBTRACE_CONNECTION_STRING", "OSPROFILER_CONNECTION_STRING"})
    if (const char* v = std::getenv(var); v && *v) return v;
  if (!config_file.empty()) return dbtrace::load_options(config_file).connection_string;
  return dbtrace::options{}.connection_string;
}

int write_output(const std::string& text, const std::string& out_file) {
  if (out_file.empty()) {
    std::cout << text;
    return 0;
  }
  std::ofstream out(out_file, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) {
    std::cerr << "dbtrace: cannot write " << out_file << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dbtrace: show the SQL statements of traced requests"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "dbtrace " DBTRACE_VERSION);
  std::string connection_string, config_file;
  app.add_option("--connection-string", connection_string,
                 "Store to read (default: $DBTRACE_CONNECTION_STRING, "
                 "$OSPROFILER_CONNECTION_STRING, sqlite:///dbtrace.db)");
  app.add_option("--config", config_file,
                 "Take the store from this config file's [profiler] section")
      ->check(CLI::ExistingFile);

  auto* trace_cmd = app.add_subcommand("trace", "Stored traces");
  trace_cmd->require_subcommand(1);

  auto* list_cmd = trace_cmd->add_subcommand("list", "List traces: base_id and first timestamp");
  bool error_only = false;
  list_cmd->add_flag("--error-trace", error_only, "Only traces that contain an error");

  auto* show_cmd = trace_cmd->add_subcommand("show", "Show one trace");
  std::string base_id, out_file;
  bool as_json = false, as_tree = false;
  show_cmd->add_option("base_id", base_id, "The trace's base_id")->required();
  auto* json_flag = show_cmd->add_flag("--json", as_json, "OSProfiler's report as JSON");
  auto* tree_flag = show_cmd->add_flag("--tree", as_tree, "An indented tree with durations");
  json_flag->excludes(tree_flag);
  show_cmd->add_option("--out", out_file, "Write to this file instead of standard output");

  for (auto* sub : {list_cmd, show_cmd}) {
    sub->add_option("--connection-string", connection_string, "Store to read");
    sub->add_option("--config", config_file, "Take the store from this config file")
        ->check(CLI::ExistingFile);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    // A word CLI11 could not place is what the user got wrong: name it
    // (CLI11 would only say that a subcommand is required).
    const auto extra = app.remaining(true);
    if (!extra.empty())
      std::cerr << "dbtrace: unknown command or option '" << extra.front()
                << "' (see dbtrace --help)\n";
    else
      std::cerr << "dbtrace: " << e.what() << " (see dbtrace --help)\n";
    return 2;
  }

  std::string where;
  try {
    const std::string cs = store_location(connection_string, config_file);
    where = dbtrace::redact_connection_string(cs);
    auto store = dbtrace::make_reader(cs);
    if (list_cmd->parsed()) {
      std::string text;
      for (const auto& t : store->list_traces(error_only))
        text += t.base_id + "\t" + t.timestamp + "\n";
      return write_output(text, "");
    }
    const auto events = store->read_trace(base_id);
    if (events.empty()) {
      std::cerr << "dbtrace: no trace " << base_id << " in " << where << "\n";
      return 1;
    }
    if (as_json) return write_output(dbtrace::build_report(events).dump(2) + "\n", out_file);
    return write_output(dbtrace::render_tree(events), out_file);
  } catch (const dbtrace::config_error& e) {
    std::cerr << "dbtrace: " << e.what() << "\n";
    return 2;
  } catch (const dbtrace::store_error& e) {
    std::cerr << "dbtrace: " << e.what() << "\n";  // names the store already
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "dbtrace: " << (where.empty() ? "" : where + ": ") << e.what() << "\n";
    return 1;
  }
}
