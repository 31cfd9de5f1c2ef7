// SPDX-License-Identifier: Apache-2.0
// The `dbtrace` command: list stored traces, show one, per-statement
// statistics, what tracing costs. Exit codes: 0 done, 1 no such trace or the
// store cannot be read, 2 a usage or configuration error.
#include <CLI/CLI.hpp>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>

#include "bench_command.hpp"
#include "common.hpp"
#include "dbtrace/dbtrace.hpp"
#include "dbtrace/detail/closest_word.hpp"
#include "dbtrace/driver.hpp"
#include "dbtrace/osprofiler_event.hpp"
#include "dbtrace/report.hpp"
#include "stats_command.hpp"
#include "trace_commands.hpp"
#include "viewer.hpp"

namespace cli = dbtrace::cli;

namespace {

int run(int argc, char** argv) {
  CLI::App app{"dbtrace: show the SQL statements of traced requests"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "dbtrace " DBTRACE_VERSION);
  std::string connection_string, config_dir;
  std::vector<std::string> config_files;
  app.add_option("--connection-string", connection_string,
                 "Store to read (default: $DBTRACE_CONNECTION_STRING, "
                 "$OSPROFILER_CONNECTION_STRING, sqlite:///dbtrace.db)");
  // oslo.config's names and order: the files as given, then the directory's
  // *.conf files by name, a later one overriding an earlier one.
  const auto config_options = [&](CLI::App* on) {
    on->add_option("--config,--config-file", config_files,
                   "Take the store from this config file's [profiler] section (repeatable)")
        ->check(CLI::ExistingFile);
    on->add_option("--config-dir", config_dir, "And from this directory's *.conf files")
        ->check(CLI::ExistingDirectory);
  };
  config_options(&app);

  auto* trace_cmd = app.add_subcommand("trace", "Stored traces");
  trace_cmd->require_subcommand(1);

  auto* list_cmd = trace_cmd->add_subcommand(
      "list", "List traces: start, duration, spans, SQL statements, errors, project/service");
  cli::list_options lo;
  list_cmd->add_flag("--error-trace", lo.errors_only, "Only traces that contain an error");
  list_cmd
      ->add_option("--sort", lo.sort,
                   "Order: start (newest first), duration (longest first) or errors (most first)")
      ->check(CLI::IsMember({"start", "duration", "errors"}));
  list_cmd->add_flag("--reverse", lo.reverse, "The other way round (oldest first, say)");
  list_cmd->add_option("--limit", lo.limit, "At most N traces")->check(CLI::NonNegativeNumber);
  list_cmd->add_option("--since", lo.since,
                       "Traces started since a UTC time or an age (15m, 2h, 1d)");
  list_cmd->add_flag("--json", lo.as_json, "A JSON array, one object per trace");

  auto* show_cmd = trace_cmd->add_subcommand("show", "Show one trace");
  std::string base_id, out_file, min_duration;
  show_cmd
      ->add_option("base_id", base_id,
                   "The trace's base_id (or enough of its start to be unique), or a file with "
                   "its JSON report")
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

  auto* stats_cmd = app.add_subcommand(
      "stats",
      "Per statement across stored traces: count, errors, rows, total, mean, p50/p95/p99, max");
  cli::stats_options so;
  stats_cmd
      ->add_option("--by", so.by,
                   "Group by statement text, db.query.summary, operation, collection or span name")
      ->check(CLI::IsMember({"text", "summary", "operation", "collection", "name"}));
  stats_cmd->add_option("--sort", so.sort, "Largest first: total time, p99, count or errors")
      ->check(CLI::IsMember({"total", "p99", "count", "errors"}));
  stats_cmd->add_option("--top", so.top, "Only the first N");
  stats_cmd->add_option("--since", so.since,
                        "Spans started since a UTC time or an age (15m, 2h, 1d)");
  stats_cmd->add_option("--until", so.until, "Spans started before a UTC time or an age");
  stats_cmd->add_option("--project", so.project,
                        "Only spans recorded by this project (without it, every project but "
                        "dbtrace-bench, where `dbtrace bench` records)");
  stats_cmd->add_option("--service", so.service, "Only spans recorded by this service");
  stats_cmd->add_option("--trace", so.trace, "Only this trace (base_id)");
  auto* stats_json =
      stats_cmd->add_flag("--json", so.as_json, "A JSON array, one object per group");
  stats_cmd->add_flag("--csv", so.as_csv, "CSV with a header row")->excludes(stats_json);

  auto* bench_cmd = app.add_subcommand(
      "bench", "What tracing costs on your database and statement: raw vs traced, interleaved");
  cli::bench_options bo;
  bench_cmd->add_option("--api", bo.api, "The shim your application uses")
      ->check(CLI::IsMember({"soci", "pqxx"}));
  bench_cmd->add_option("--db", bo.db,
                        "soci: backend://connect-string (postgresql://dbname=app host=db); pqxx: a "
                        "libpq string. Default: in-memory SQLite with a table of its own");
  bench_cmd->add_option("--statement", bo.statement, "The statement to prepare and run");
  bench_cmd->add_option("--param", bo.params, "A value to bind, in order (repeat for more)");
  bench_cmd->add_option("--store", bo.store,
                        "Where spans go (default: an embedded store in a temporary directory)");
  bench_cmd->add_option("--seconds", bo.seconds, "How long to measure (default 5)");
  bench_cmd->add_flag("--json", bo.as_json, "The figures as JSON");

  for (auto* sub : {list_cmd, show_cmd, stats_cmd}) {
    sub->add_option("--connection-string", connection_string, "Store to read");
    config_options(sub);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    // A word CLI11 could not place is what the user got wrong: name it
    // (CLI11 would only say that a subcommand is required).
    const auto extra = app.remaining(true);
    if (!extra.empty()) {
      std::vector<std::string_view> commands;
      for (const auto* level : {&app, trace_cmd})
        for (const auto* sub : level->get_subcommands({})) commands.push_back(sub->get_name());
      const auto meant = dbtrace::detail::closest_word(extra.front(), commands, 2);
      std::cerr << "dbtrace: unknown command or option '" << extra.front() << "'"
                << (meant.empty() ? "" : " (did you mean '" + meant + "'?)")
                << " (see dbtrace --help)\n";
    }
    else
      std::cerr << "dbtrace: " << e.what() << " (see dbtrace --help)\n";
    return 2;
  }

  std::string where;
  try {
    dbtrace::tree_options tree;
    if (!min_duration.empty()) {
      const auto us = cli::parse_duration(min_duration);
      if (!us) {
        std::cerr << "dbtrace: --min-duration '" << min_duration
                  << "' is not a duration such as 250us, 1ms or 2s\n";
        return 2;
      }
      tree.min_duration_us = *us;
    }
    if (bench_cmd->parsed()) return cli::run_bench(bo);
    std::vector<dbtrace::stored_event> events;
    // Trace ids are stored in lower case, as OSProfiler writes them.
    const bool file_given = show_cmd->parsed() && !cli::is_uuid(base_id) &&
                            !(cli::is_id_prefix(base_id) && !std::ifstream(base_id));
    if (!file_given)
      for (auto& c : base_id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (file_given) {
      where = base_id;
      std::ifstream in(base_id);
      if (!in) {
        std::cerr << "dbtrace: " << base_id
                  << " is neither a trace id nor a readable report file\n";
        return 1;
      }
      const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
      events = dbtrace::events_from_report(dbtrace::parse_report_text(text));
    } else {
      const std::string cs = cli::store_location(connection_string, config_files, config_dir);
      where = dbtrace::redact_connection_string(cs);
      auto store = dbtrace::make_reader(cs);
      if (list_cmd->parsed()) return cli::list_traces(*store, lo);
      if (stats_cmd->parsed()) return cli::show_stats(*store, so);
      if (!cli::is_uuid(base_id)) {
        const auto whole = cli::trace_with_prefix(*store, base_id);
        if (whole.empty()) {
          std::cerr << "dbtrace: no trace starts with " << base_id << " in " << where << "\n";
          return 1;
        }
        base_id = whole;
      }
      events = store->read_trace(base_id);
    }
    if (events.empty()) {
      std::cerr << "dbtrace: no trace " << base_id << " in " << where << "\n";
      return 1;
    }
    if (format == "json")
      // Stores written by other tools may hold invalid UTF-8: shown as U+FFFD.
      return cli::write_output(dbtrace::build_report(events).dump(
                                   2, ' ', false, nlohmann::json::error_handler_t::replace) +
                                   "\n",
                               out_file);
    const auto trace = dbtrace::assemble_trace(events);
    if (format == "html") return cli::write_output(dbtrace::viewer::render_html(trace), out_file);
    if (format == "dot") return cli::write_output(dbtrace::render_dot(trace), out_file);
    if (format == "chrome") return cli::write_output(dbtrace::render_chrome(trace), out_file);
    if (format == "otlp") return cli::write_output(dbtrace::render_otlp(trace), out_file);
    tree.colour = cli::is_terminal(out_file);
    return cli::write_output(dbtrace::render_tree(trace, tree), out_file);
  } catch (const cli::usage_error& e) {
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

}  // namespace

int main(int argc, char** argv) {
  const int status = run(argc, argv);
  // Output that could not be written (a full disk, say) is a failure, never success.
  std::cout.flush();
  if (!std::cout) {
    std::cerr << "dbtrace: cannot write to standard output: " << std::strerror(errno) << "\n";
    return status != 0 ? status : 1;
  }
  return status;
}
