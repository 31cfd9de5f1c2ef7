// SPDX-License-Identifier: Apache-2.0
// postgresql:// — OSProfiler's SQL store on PostgreSQL, through libpq.
#include "dbtrace/drivers/postgres.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <set>
#include <string_view>

#include "dbtrace/error.hpp"
#include "dbtrace/osprofiler_event.hpp"

namespace dbtrace::drivers {
namespace {

// A batch is written once, whole: its COPY runs in one transaction with the
// insert of the batch's marker (batch_marker) into dbtrace_batches. A retry
// of a batch whose earlier attempt did commit (its reply lost, or a stalled
// server running it late) fails on the marker's key, waiting for the earlier
// attempt if it is still running, and is then known to be written. Markers
// are kept a day: no retry comes later than that.
const char* const batches_ddl =
    "CREATE TABLE IF NOT EXISTS dbtrace_batches (marker VARCHAR(40) PRIMARY KEY, "
    "written_at TIMESTAMPTZ NOT NULL DEFAULT now())";
const char* const forget_old_batches =
    "DELETE FROM dbtrace_batches WHERE written_at < now() - interval '1 day'";

// Writers that start together on a fresh database would race in CREATE TABLE
// IF NOT EXISTS (a unique violation in pg_type): one at a time, by an
// advisory lock held until COMMIT.
const std::string schema_sql = "BEGIN; SELECT pg_advisory_xact_lock(7190434); " +
                               data_table_ddl("id SERIAL PRIMARY KEY") + "; " + batches_ddl + "; " +
                               forget_old_batches + "; COMMIT;";

// The server's notices ("relation \"data\" already exists, skipping") would go
// to the application's stderr through libpq's default processor.
void ignore_notice(void*, const char*) {}

using pg_result = std::unique_ptr<PGresult, decltype(&PQclear)>;

// libpq takes postgresql:// and postgres://; OSProfiler configs name the Python driver too.
std::string libpq_uri(std::string uri) {
  const auto plus = uri.find('+');
  const auto scheme_end = uri.find("://");
  if (plus != std::string::npos && plus < scheme_end) uri.erase(plus, scheme_end - plus);
  // A dead host must not hold the exporter for libpq's default of forever.
  if (uri.find("connect_timeout") == std::string::npos)
    uri += (uri.find('?') == std::string::npos ? "?" : "&") + std::string("connect_timeout=3");
  return uri;
}

// What each byte becomes in the COPY data: itself, or an escape of up to
// four bytes. Escaping is a table lookup per byte with no branch: JSON text
// has a quote every few bytes, and a branch on each was mispredicted often
// enough to be most of the store's formatting time.
struct escape_table {
  char text[256][4];
  unsigned char size[256];
};

constexpr escape_table make_escapes(bool inside_json_string) {
  escape_table t{};
  for (int c = 0; c < 256; ++c) {
    t.text[c][0] = static_cast<char>(c);
    t.size[c] = 1;
  }
  auto set = [&t](unsigned char c, const char* escaped, unsigned char size) {
    for (unsigned char i = 0; i < size; ++i) t.text[c][i] = escaped[i];
    t.size[c] = size;
  };
  if (inside_json_string) {
    // The info's JSON as a JSON string: `"` and `\` get a backslash, and COPY
    // doubles every backslash. (The JSON has no raw control characters.)
    set('"', "\\\\\"", 3);
    set('\\', "\\\\\\\\", 4);
  } else {
    // COPY's text format: backslash escapes for the characters it treats specially.
    set('\\', "\\\\", 2);
    set('\t', "\\t", 2);
    set('\n', "\\n", 2);
    set('\r', "\\r", 2);
  }
  return t;
}
constexpr escape_table copy_field_escapes = make_escapes(false);
constexpr escape_table json_string_escapes = make_escapes(true);

// Appends `s` escaped by `t`: written in place into room for the worst case
// (four bytes a character), which is not zero-filled first.
void append_escaped(detail::text_buffer& out, std::string_view s, const escape_table& t) {
  char* p = out.room(4 * s.size());
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    std::memcpy(p, t.text[u], 4);
    p += t.size[u];
  }
  out.commit(p);
}

// The `data` column as OSProfiler stores it: a JSON string holding the JSON
// text `{"info": …}`, written straight into COPY's text format.
void append_copy_payload(detail::text_buffer& out, std::string_view info_json) {
  out.append("\"{\\\\\"info\\\\\": ");
  append_escaped(out, info_json, json_string_escapes);
  out.append("}\"");
}

// A value for one of the data table's VARCHAR(255) columns: PostgreSQL text
// holds no NUL, and a longer value would fail the whole COPY (every trace in
// the batch with it). Cut on a UTF-8 boundary; the full text stays in `data`.
std::string column_text(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), '\0'), s.end());
  std::size_t chars = 0, i = 0;
  for (; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && ++chars > 255) break;
  s.resize(i);
  return s;
}

nlohmann::ordered_json decode_payload(const char* text) {
  return decode_data_column(text ? text : "");
}

// libpq's messages on one line: its line breaks and tabs become one blank.
std::string trim(const std::string& s) {
  std::string out;
  for (const char c : s) {
    const bool blank = c == '\n' || c == '\t' || c == ' ';
    if (!blank)
      out += c;
    else if (!out.empty() && out.back() != ' ')
      out += ' ';
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// libpq waits for a server without end, and a stopped server (SIGSTOP, a hung
// host) keeps its connections open: the exporter would wait with it, saying
// nothing. The writer's connection is non-blocking, and each step of a request
// waits at most this long for the server to take or send a byte.
constexpr std::chrono::seconds answer_timeout{5};

// Drives one request on a non-blocking connection; every wait is bounded.
class timed_request {
 public:
  explicit timed_request(PGconn* c) : c_(c) {}

  // Sends what libpq has queued.
  bool flush() {
    for (;;) {
      const int r = PQflush(c_);
      if (r == 0) return true;
      if (r < 0 || !wait(POLLOUT | POLLIN)) return false;
      if ((revents_ & POLLIN) && !PQconsumeInput(c_)) return false;
    }
  }

  // The next result; null when the request is done, or broke (see broken()).
  PGresult* result() {
    while (PQisBusy(c_))
      if (!wait(POLLIN) || !PQconsumeInput(c_)) return broken_ = true, nullptr;
    return PQgetResult(c_);
  }

  bool send(const char* sql) { return PQsendQuery(c_, sql) == 1 && flush(); }

  bool copy(const detail::text_buffer& data) {
    int r;
    while ((r = PQputCopyData(c_, data.data(), static_cast<int>(data.size()))) == 0)
      if (!wait(POLLOUT)) return false;
    if (r != 1) return false;
    while ((r = PQputCopyEnd(c_, nullptr)) == 0)
      if (!wait(POLLOUT)) return false;
    return r == 1 && flush();
  }

  // The server did not answer in time, or the connection failed.
  bool broken() const { return broken_; }
  bool timed_out() const { return timed_out_; }

 private:
  bool wait(short events) {
    pollfd p{PQsocket(c_), events, 0};
    const int timeout_ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(answer_timeout).count());
    int r;
    while ((r = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
    }
    revents_ = p.revents;
    if (r == 0) timed_out_ = true;
    if (r <= 0) broken_ = true;
    return r > 0;
  }

  PGconn* c_;
  short revents_ = 0;
  bool broken_ = false;
  bool timed_out_ = false;
};

// Its messages name no store: the exporter's report does.
class postgres_writer final : public writer {
 public:
  explicit postgres_writer(const store_params& p)
      : uri_(libpq_uri(p.connection_string)),
        format_(p.project, p.service, p.host, osprofiler_formatter::parts::columns) {
    // The project, host and service columns, the same on every row: escaped once.
    for (const std::string* c : {&p.project, &p.host, &p.service}) {
      append_escaped(fixed_columns_, column_text(valid_utf8(*c)), copy_field_escapes);
      fixed_columns_.push_back('\t');
    }
  }
  ~postgres_writer() override { close(); }

  write_result write(const std::vector<span_view>& batch, std::string& error) noexcept override {
    try {
      if (const auto c = connect(error); c != write_result::ok) return c;
      buffer_.clear();
      const std::string_view fixed = fixed_columns_.view();
      for (const event_text& e : format_.format(batch)) {
        // Ids and timestamps are hex digits, digits and dashes: nothing to
        // escape. They and the fixed columns go through one reservation, the
        // ids and timestamp copied as the sizes they always have.
        char* p = buffer_.room(e.timestamp.size() + e.base_id.size() + e.parent_id.size() +
                               e.trace_id.size() + 4 + fixed.size());
        p = put_sized<timestamp_size>(p, e.timestamp);
        for (const std::string_view id : {e.base_id, e.parent_id, e.trace_id})
          p = put_sized<uuid_size>(p, id);
        buffer_.commit(detail::put(p, fixed));
        append_name(e.name);
        buffer_.push_back('\t');
        append_payload(e.info);
        buffer_.push_back('\n');
      }
      timed_request request(conn_);
      // One query, so one implicit transaction: the marker and the rows.
      const std::string claim_and_copy =
          "INSERT INTO dbtrace_batches (marker) VALUES ('" + batch_marker(batch) +
          "'); COPY data (\"timestamp\", base_id, parent_id, trace_id, project, host, service, "
          "name, data) FROM STDIN";
      if (!request.send(claim_and_copy.c_str())) return failed(request, error);
      pg_result claimed(request.result(), PQclear);
      if (!claimed) return failed(request, error);
      if (PQresultStatus(claimed.get()) != PGRES_COMMAND_OK) {
        const char* state = PQresultErrorField(claimed.get(), PG_DIAG_SQLSTATE);
        const bool written_before = state && std::string_view(state) == "23505";
        error = trim(PQerrorMessage(conn_));
        while (pg_result rest{request.result(), PQclear}) {
        }
        if (request.broken()) return failed(request, error);
        return written_before ? write_result::ok : reset(write_result::retry);
      }
      pg_result start(request.result(), PQclear);
      if (PQresultStatus(start.get()) != PGRES_COPY_IN) return failed(request, error);
      if (!request.copy(buffer_)) return failed(request, error);
      pg_result done(request.result(), PQclear);
      if (!done) return failed(request, error);
      const bool ok = PQresultStatus(done.get()) == PGRES_COMMAND_OK;
      const std::string state =
          done ? std::string(PQresultErrorField(done.get(), PG_DIAG_SQLSTATE)
                                 ? PQresultErrorField(done.get(), PG_DIAG_SQLSTATE)
                                 : "")
               : "";
      while (pg_result rest{request.result(), PQclear}) {
      }
      if (request.broken()) return failed(request, error);
      if (ok) return write_result::ok;
      error = trim(PQerrorMessage(conn_));
      // Data the server refuses (class 22: bad data, 23: constraint) will not
      // pass on a retry either; anything else (connection, disk) may.
      if (state.rfind("22", 0) == 0 || state.rfind("23", 0) == 0) return write_result::rejected;
      return reset(write_result::retry);
    } catch (const std::exception& e) {
      error = e.what();
      return write_result::retry;
    }
  }

  void shutdown(std::chrono::milliseconds) noexcept override { close(); }

 private:
  void close() {
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
  }

  // ok once connected with the table in place; unreachable when the server
  // refused or did not answer the connect; retry when the table could not be made.
  write_result connect(std::string& error) {
    if (conn_ && PQstatus(conn_) == CONNECTION_OK) return write_result::ok;
    if (conn_) PQfinish(conn_);
    conn_ = PQconnectdb(uri_.c_str());
    if (PQstatus(conn_) != CONNECTION_OK) {
      error = trim(PQerrorMessage(conn_));
      PQfinish(conn_);
      conn_ = nullptr;
      return write_result::unreachable;
    }
    PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
    timed_request request(conn_);
    bool created = PQsetnonblocking(conn_, 1) == 0 && request.send(schema_sql.c_str());
    while (pg_result res{created ? request.result() : nullptr, PQclear}) {
      const auto status = PQresultStatus(res.get());
      created = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
    }
    if (!created || request.broken()) {
      error = trim("creating the data table: " + problem(request));
      close();
      return write_result::retry;
    }
    return write_result::ok;
  }

  std::string problem(const timed_request& request) const {
    if (request.timed_out())
      return "no answer from the server in " + std::to_string(answer_timeout.count()) +
             " s (stopped or overloaded?); reconnecting";
    return PQerrorMessage(conn_);
  }

  write_result failed(const timed_request& request, std::string& error) {
    error = trim(problem(request));
    return reset(write_result::retry);
  }

  // After a failure mid-COPY the connection state is unknown: start afresh.
  write_result reset(write_result r) {
    close();
    return r;
  }

  // The name column. A SQL span's "db-start" and "db-stop", and most other
  // names, are short printable ASCII: nothing to cut or escape.
  // `c` and a tab; a copy of constant size when `c` has the size its column
  // always has (a few moves, not a call of memcpy).
  template <std::size_t size>
  static char* put_sized(char* p, std::string_view c) noexcept {
    if (c.size() == size)
      std::memcpy(p, c.data(), size);
    else
      detail::put(p, c);
    p += c.size();
    *p++ = '\t';
    return p;
  }
  static constexpr std::size_t timestamp_size = 26;  // 2026-12-07T16:45:04.123456
  static constexpr std::size_t uuid_size = 36;

  void append_name(std::string_view name) {
    const bool plain = name.size() <= 255 && std::all_of(name.begin(), name.end(), [](char c) {
                         return c >= 0x20 && c < 0x7F && c != '\\';
                       });
    if (plain)
      buffer_.append(name);
    else
      append_escaped(buffer_, column_text(std::string(name)), copy_field_escapes);
  }

  // The data column. Escaping is most of a row's cost, and the same infos
  // come again and again (a statement's db-start, a db-stop's rows): the
  // last two are kept escaped.
  void append_payload(std::string_view info) {
    for (const auto& r : recent_)
      if (r.info == info) return buffer_.append(r.payload.view());
    auto& r = recent_[next_recent_++ % 2];
    r.info.assign(info.data(), info.size());
    r.payload.clear();
    append_copy_payload(r.payload, info);
    buffer_.append(r.payload.view());
  }

  std::string uri_;
  osprofiler_formatter format_;
  detail::text_buffer fixed_columns_;  // `project\thost\tservice\t`
  struct escaped_info {
    std::string info;  // empty: none yet (an info is never empty)
    detail::text_buffer payload;
  };
  escaped_info recent_[2];
  std::size_t next_recent_ = 0;
  PGconn* conn_ = nullptr;
  detail::text_buffer buffer_;
};

class postgres_reader final : public reader {
 public:
  explicit postgres_reader(const std::string& uri)
      : uri_(libpq_uri(uri)), shown_(redact_connection_string(uri_)) {}

  std::vector<trace_summary> list_traces(bool errors_only) override {
    connection r(*this);
    std::set<std::string> failed;
    if (errors_only) {
      auto res = r.query(
          "SELECT base_id, data FROM data WHERE name LIKE '%-stop' AND data::text LIKE '%etype%'",
          nullptr);
      for (int i = 0; i < PQntuples(res.get()); ++i) {
        const auto payload = decode_payload(PQgetvalue(res.get(), i, 1));
        if (payload.contains("info") && payload["info"].is_object() &&
            payload["info"].contains("etype"))
          failed.insert(PQgetvalue(res.get(), i, 0));
      }
    }
    auto res = r.query(
        "SELECT base_id, MIN(\"timestamp\") FROM data GROUP BY base_id ORDER BY 2, 1", nullptr);
    std::vector<trace_summary> out;
    for (int i = 0; i < PQntuples(res.get()); ++i) {
      std::string id = PQgetvalue(res.get(), i, 0);
      if (!errors_only || failed.count(id))
        out.push_back({std::move(id), PQgetvalue(res.get(), i, 1)});
    }
    return out;
  }

  std::vector<stored_event> read_trace(const std::string& base_id) override {
    connection r(*this);
    auto res = r.query(
        "SELECT name, base_id, trace_id, parent_id, \"timestamp\", project, service, host, data "
        "FROM data WHERE base_id = $1 ORDER BY id",
        base_id.c_str());
    std::vector<stored_event> out;
    for (int i = 0; i < PQntuples(res.get()); ++i) out.push_back(event_of(res.get(), i));
    return out;
  }

  // One query, rows streamed one at a time: a store of millions of events is
  // never held in memory (the default would run a query per trace).
  void scan(const std::function<bool(const stored_event&)>& each) override {
    connection r(*this);
    if (!PQsendQuery(r.conn_,
                     "SELECT name, base_id, trace_id, parent_id, \"timestamp\", project, service, "
                     "host, data FROM data ORDER BY id") ||
        !PQsetSingleRowMode(r.conn_))
      throw store_error(trim(shown_ + ": " + PQerrorMessage(r.conn_)));
    bool wanted = true;
    std::string failure;
    while (PGresult* row = PQgetResult(r.conn_)) {
      pg_result res(row, PQclear);
      const auto status = PQresultStatus(row);
      if (status == PGRES_SINGLE_TUPLE && wanted)
        wanted = each(event_of(row, 0));  // after false, the rest is read and dropped
      else if (status != PGRES_SINGLE_TUPLE && status != PGRES_TUPLES_OK && failure.empty())
        failure = trim(shown_ + ": " + PQresultErrorMessage(row));
    }
    if (!failure.empty()) throw store_error(failure + " (not a dbtrace/OSProfiler store?)");
  }

 private:
  static stored_event event_of(PGresult* res, int i) {
    auto v = [&](int c) { return std::string(PQgetvalue(res, i, c)); };
    auto nullable = [&](int c) -> std::optional<std::string> {
      if (PQgetisnull(res, i, c)) return std::nullopt;
      return v(c);
    };
    return {v(0),        v(1),        v(2),
            v(3),        v(4),        nullable(5),
            nullable(6), nullable(7), decode_payload(PQgetvalue(res, i, 8))};
  }

  // A connection of the CLI's own, closed when done.
  struct connection {
    explicit connection(const postgres_reader& d) : d_(d), conn_(PQconnectdb(d.uri_.c_str())) {
      if (PQstatus(conn_) != CONNECTION_OK) {
        const std::string msg = d_.shown_ + ": " + PQerrorMessage(conn_);
        PQfinish(conn_);
        throw store_error(trim(msg));
      }
    }
    ~connection() { PQfinish(conn_); }
    pg_result query(const char* sql, const char* param) {
      pg_result res(PQexecParams(conn_, sql, param ? 1 : 0, nullptr, &param, nullptr, nullptr, 0),
                    PQclear);
      if (PQresultStatus(res.get()) != PGRES_TUPLES_OK)
        throw store_error(trim(d_.shown_ + ": " + PQerrorMessage(conn_)) +
                          " (not a dbtrace/OSProfiler store?)");
      return res;
    }
    const postgres_reader& d_;
    PGconn* conn_;
  };

  std::string uri_, shown_;
};

}  // namespace

store_kind postgres_store() {
  return {{"postgresql://", "postgres://", "postgresql+"},
          [](const store_params& p) { return std::make_unique<postgres_writer>(p); },
          [](const std::string& uri) { return std::make_unique<postgres_reader>(uri); }};
}

}  // namespace dbtrace::drivers
