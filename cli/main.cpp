// The `dbtrace` command: list stored traces and show one, from any store.
// Exit codes: 0 done, 1 no such trace or the store cannot be read, 2 a usage
// or configuration error.
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>

#include "dbtrace/dbtrace.hpp"
#include "dbtrace/driver.hpp"
#include "dbtrace/osprofiler_event.hpp"
#include "dbtrace/report.hpp"
#include "viewer.hpp"

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

// Colour and header rows only for a person at a terminal.
bool is_terminal(const std::string& out_file) {
  return out_file.empty() && isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR");
}

std::string millis(std::int64_t micros) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(micros) / 1000.0);
  return buf;
}

std::string timestamp(std::int64_t micros) {
  std::string ts;
  dbtrace::format_timestamp(micros * 1000, ts);
  return ts;
}

// A duration such as 250us, 1.5ms, 2s, 15m, 3h or 1d, in µs.
std::optional<std::int64_t> parse_duration(const std::string& text) {
  static const std::map<std::string, double> units = {{"us", 1},   {"ms", 1e3},   {"s", 1e6},
                                                      {"m", 60e6}, {"h", 3600e6}, {"d", 86400e6}};
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const auto unit = units.find(text.substr(used));
  if (unit == units.end() || value < 0) return std::nullopt;
  return static_cast<std::int64_t>(value * unit->second);
}

// --since: a UTC time (2026-11-26T09:00:00, 2026-11-26) or an age (15m, 2h, 1d).
std::int64_t parse_since(const std::string& text) {
  if (auto t = dbtrace::parse_timestamp(text.size() == 10 ? text + "T00:00:00" : text)) return *t;
  if (auto age = parse_duration(text)) {
    const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    return now - *age;
  }
  throw CLI::ValidationError("--since", "'" + text +
                                            "' is neither a UTC time (2026-11-26T09:00:00) "
                                            "nor an age (30s, 15m, 2h, 1d)");
}

struct list_options {
  bool errors_only = false, as_json = false;
  std::string sort = "start", since;
  std::size_t limit = 0;
};

int list_traces(dbtrace::reader& store, const list_options& o) {
  std::vector<dbtrace::trace_overview> traces;
  std::map<std::string, std::size_t> index;
  store.scan([&](const dbtrace::stored_event& e) {
    auto [it, added] = index.emplace(e.base_id, traces.size());
    if (added) traces.emplace_back();
    traces[it->second].add(e);
    return true;
  });
  const std::int64_t since = o.since.empty() ? INT64_MIN : parse_since(o.since);
  traces.erase(std::remove_if(traces.begin(), traces.end(),
                              [&](const auto& t) {
                                return t.base_id.empty() || t.started_us < since ||
                                       (o.errors_only && t.errors == 0);
                              }),
               traces.end());
  auto key = [&](const dbtrace::trace_overview& t) -> std::int64_t {
    if (o.sort == "duration") return -t.duration_us();
    if (o.sort == "errors") return -static_cast<std::int64_t>(t.errors);
    return t.started_us;
  };
  std::stable_sort(traces.begin(), traces.end(), [&](const auto& a, const auto& b) {
    return key(a) != key(b) ? key(a) < key(b) : a.started_us < b.started_us;
  });
  if (o.limit && traces.size() > o.limit) traces.resize(o.limit);

  if (o.as_json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& t : traces)
      out.push_back({{"base_id", t.base_id},
                     {"started", timestamp(t.started_us)},
                     {"duration_ms", static_cast<double>(t.duration_us()) / 1000.0},
                     {"spans", t.spans},
                     {"sql", t.sql},
                     {"errors", t.errors},
                     {"project", t.project},
                     {"service", t.service}});
    return write_output(out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                        "");
  }
  // Tab-separated for scripts; aligned under a header for a person.
  const bool terminal = is_terminal("");
  std::vector<std::vector<std::string>> rows;
  if (terminal)
    rows.push_back({"BASE ID", "STARTED (UTC)", "DURATION MS", "SPANS", "SQL", "ERRORS", "PROJECT/SERVICE"});
  for (const auto& t : traces)
    rows.push_back({t.base_id, timestamp(t.started_us), millis(t.duration_us()),
                    std::to_string(t.spans), std::to_string(t.sql), std::to_string(t.errors),
                    t.project + "/" + t.service});
  std::vector<std::size_t> width(7, 0);
  if (terminal)
    for (const auto& r : rows)
      for (std::size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  std::string text;
  for (const auto& r : rows) {
    for (std::size_t c = 0; c < r.size(); ++c) {
      text += r[c];
      if (c + 1 == r.size()) break;
      text += terminal ? std::string(width[c] - r[c].size() + 2, ' ') : "\t";
    }
    text += '\n';
  }
  if (terminal && traces.empty()) text = "no traces\n";
  return write_output(text, "");
}

// `trace show` takes a trace id or, as `osprofiler trace show` does, the path
// of a file holding a trace's JSON report: anything that is not a UUID.
bool is_uuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i)
    if ((i == 8 || i == 13 || i == 18 || i == 23)
            ? s[i] != '-'
            : !std::isxdigit(static_cast<unsigned char>(s[i])))
      return false;
  return true;
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

  auto* list_cmd = trace_cmd->add_subcommand(
      "list", "List traces: start, duration, spans, SQL statements, errors, project/service");
  list_options lo;
  list_cmd->add_flag("--error-trace", lo.errors_only, "Only traces that contain an error");
  list_cmd
      ->add_option("--sort", lo.sort,
                   "Order: start (oldest first), duration or errors (most first)")
      ->check(CLI::IsMember({"start", "duration", "errors"}));
  list_cmd->add_option("--limit", lo.limit, "At most N traces");
  list_cmd->add_option("--since", lo.since,
                       "Traces started since a UTC time or an age (15m, 2h, 1d)");
  list_cmd->add_flag("--json", lo.as_json, "A JSON array, one object per trace");

  auto* show_cmd = trace_cmd->add_subcommand("show", "Show one trace");
  std::string base_id, out_file, min_duration;
  show_cmd->add_option("base_id", base_id, "The trace's base_id, or a file with its JSON report")
      ->required();
  std::string format = "tree";
  auto* format_group = show_cmd->add_option_group("format", "Output format (default --tree)");
  for (const char* f : {"tree", "json", "html", "dot", "chrome", "otlp"}) {
    static const std::map<std::string, std::string> help = {
        {"tree", "An indented tree with durations, statements, rows, errors"},
        {"json", "OSProfiler's report as JSON"},
        {"html", "A self-contained HTML page (no network needed)"},
        {"dot", "Graphviz DOT (dot -Tsvg)"},
        {"chrome", "Chrome trace-event JSON for Perfetto UI or chrome://tracing"},
        {"otlp", "An OTLP/JSON file (Jaeger UI loads it)"}};
    format_group->add_flag_callback(
        std::string("--") + f, [&format, f] { format = f; }, help.at(f));
  }
  format_group->require_option(0, 1);
  show_cmd->add_option("--out", out_file, "Write to this file instead of standard output");
  show_cmd->add_option("--min-duration", min_duration,
                       "--tree: leave out spans faster than this (250us, 1ms, 2s)");

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
    dbtrace::tree_options tree;
    if (!min_duration.empty()) {
      const auto us = parse_duration(min_duration);
      if (!us) {
        std::cerr << "dbtrace: --min-duration '" << min_duration
                  << "' is not a duration such as 250us, 1ms or 2s\n";
        return 2;
      }
      tree.min_duration_us = *us;
    }
    std::vector<dbtrace::stored_event> events;
    if (show_cmd->parsed() && !is_uuid(base_id)) {
      where = base_id;
      std::ifstream in(base_id);
      if (!in) {
        std::cerr << "dbtrace: " << base_id
                  << " is neither a trace id nor a readable report file\n";
        return 1;
      }
      events = dbtrace::events_from_report(nlohmann::ordered_json::parse(in));
    } else {
      const std::string cs = store_location(connection_string, config_file);
      where = dbtrace::redact_connection_string(cs);
      auto store = dbtrace::make_reader(cs);
      if (list_cmd->parsed()) return list_traces(*store, lo);
      events = store->read_trace(base_id);
    }
    if (events.empty()) {
      std::cerr << "dbtrace: no trace " << base_id << " in " << where << "\n";
      return 1;
    }
    if (format == "json")
      return write_output(dbtrace::build_report(events).dump(2) + "\n", out_file);
    const auto trace = dbtrace::assemble_trace(events);
    if (format == "html") return write_output(dbtrace::viewer::render_html(trace), out_file);
    if (format == "dot") return write_output(dbtrace::render_dot(trace), out_file);
    if (format == "chrome") return write_output(dbtrace::render_chrome(trace), out_file);
    if (format == "otlp") return write_output(dbtrace::render_otlp(trace), out_file);
    tree.colour = is_terminal(out_file);
    return write_output(dbtrace::render_tree(trace, tree), out_file);
  } catch (const CLI::ValidationError& e) {
    std::cerr << "dbtrace: " << e.what() << "\n";
    return 2;
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
