#include "handlers/process/process_data_handler.hpp"

#include <chrono>
#include <fstream>

#include "artifacts/artifact_store.hpp"
#include "handlers/process/csv_reader.hpp"
#include "handlers/process/file_sandbox.hpp"
#include "handlers/process/payload.hpp"
#include "handlers/process/pipelines.hpp"
#include "handlers/process/sql_source.hpp"
#include "handlers/process/stream_store.hpp"

namespace streamer::process {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kSampleRows = 100;
constexpr std::uint64_t kDefaultMaxInputBytes = 1ull << 30;

std::uint64_t max_input_bytes(const HandlerEnvironment& env) {
  if (auto* s = env.settings.if_contains("process_data"); s && s->is_object())
    if (auto* v = s->as_object().if_contains("max_input_bytes"); v && v->is_number())
      return v->to_number<std::uint64_t>();
  return kDefaultMaxInputBytes;
}

boost::json::object meta(std::string_view step, std::size_t done, std::size_t total) {
  return {{"current_step", step}, {"records_processed", done}, {"records_total", total}};
}

std::string safe_name(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64))
    out.push_back(
        std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ? c : '_');
  return out.empty() ? "request" : out;
}

DataTable load_source(const ProcessRequest& req, JobContext& ctx, const QueryLimits& query_limits) {
  const auto& tenant = ctx.identity.tenant_id;
  switch (req.source.type) {
    case DataSourceSpec::Type::kFile: {
      fs::path file =
          resolve_in_sandbox(sandbox_root(ctx.env, tenant), req.source.path, "data_source.path");
      std::error_code ec;
      const double size = static_cast<double>(std::max<std::uintmax_t>(fs::file_size(file, ec), 1));
      return read_table_file(
          file, max_input_bytes(ctx.env), [&](std::size_t bytes, std::size_t rows) {
            ctx.cancel.throw_if_cancelled();
            ctx.progress.report(18.0 * static_cast<double>(bytes) / size,
                                "Reading " + req.source.path, meta("data_ingestion", rows, 0));
          });
    }
    case DataSourceSpec::Type::kQuery:
      ctx.progress.report(2, "Running the query", meta("data_ingestion", 0, 0));
      return run_tenant_query(ctx.env, tenant, req.source.query, &ctx.cancel, query_limits);
    case DataSourceSpec::Type::kStream:
      ctx.progress.report(2, "Reading stream " + req.source.stream_id,
                          meta("data_ingestion", 0, 0));
      return StreamStore(ctx.env.data_dir / "streams.db")
          .read(tenant, req.source.stream_id, &ctx.cancel);
  }
  throw HandlerError(ErrorCode::kValidationError, "unknown data source");
}

// row_index, split, the source columns, then the pipeline's outputs (renamed with a
// trailing '_' while they collide with a source column).
DataTable compose_output(DataTable source, PipelineResult& result) {
  DataTable out;
  out.rows = source.rows;
  std::vector<Column> outputs;
  for (auto& c : result.columns) {
    if (c.name == "row_index" || c.name == "split")
      out.columns.push_back(std::move(c));
    else
      outputs.push_back(std::move(c));
  }
  for (auto& c : source.columns) out.columns.push_back(std::move(c));
  for (auto& c : outputs) {
    while (out.find(c.name) >= 0 && c.name.size() < 200) c.name += "_";
    out.columns.push_back(std::move(c));
  }
  return out;
}

// Copies `file` to <destination prefix>/<name> inside the sandbox, atomically.
void copy_to_destination(const JobContext& ctx, const std::string& prefix, const fs::path& file,
                         const std::string& name) {
  fs::path root = sandbox_root(ctx.env, ctx.identity.tenant_id);
  fs::path dest = resolve_in_sandbox(root, prefix + "/" + name, "output.destination");
  std::error_code ec;
  fs::create_directories(dest.parent_path(), ec);
  dest = resolve_in_sandbox(root, prefix + "/" + name, "output.destination");
  if (ec || !fs::is_directory(dest.parent_path()))
    throw HandlerError::validation(
        "output.destination", "a directory prefix inside your file sandbox",
        boost::json::string(prefix), "the destination is not a directory");
  fs::path tmp = dest;
  tmp += ".partial";
  fs::copy_file(file, tmp, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::rename(tmp, dest, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw HandlerError(ErrorCode::kInternalError, "could not copy the output to the destination");
  }
}

}  // namespace

ProcessDataHandler::ProcessDataHandler(QueryLimits query_limits)
    : TypedHandler(HandlerSpec{.name = "process_data",
                               .estimated_duration = 300s,
                               .permission = "write",
                               .time_limit = 1800s,
                               .max_attempts = 3,
                               .execution = Execution::kAsync}),
      query_limits_(query_limits) {}

ProcessRequest ProcessDataHandler::parse(const boost::json::object& payload) const {
  return parse_process_payload(payload);
}

HandlerResult ProcessDataHandler::run(const ProcessRequest& req, JobContext& ctx) {
  const auto started = std::chrono::steady_clock::now();
  if (!ctx.env.artifacts)
    throw HandlerError(ErrorCode::kInternalError, "artifact store not configured");

  // 0-20 % ingestion
  ctx.progress.report(0, "Ingesting data", meta("data_ingestion", 0, 0));
  DataTable table = load_source(req, ctx, query_limits_);
  const std::size_t total = table.rows;
  ctx.cancel.throw_if_cancelled();
  ctx.progress.report(20, "Ingested " + std::to_string(total) + " records",
                      meta("data_ingestion", total, total));

  // 20-40 % preprocessing: column typing and missing-value census.
  std::size_t missing = 0, text_columns = 0;
  for (const auto& c : table.columns) {
    text_columns += !c.numeric();
    for (std::size_t r = 0; r < c.size(); ++r) missing += c.missing(r);
  }
  ctx.progress.report(30,
                      "Typed " + std::to_string(table.columns.size()) + " columns (" +
                          std::to_string(text_columns) + " text), " + std::to_string(missing) +
                          " missing values",
                      meta("data_preprocessing", total, total));
  ctx.cancel.throw_if_cancelled();
  ctx.progress.report(40, "Preprocessing done", meta("data_preprocessing", total, total));

  // 40-85 % feature engineering and model (reported by the pipeline).
  PipelineResult result = run_pipeline(
      table, req.options,
      [&](double pct, std::string_view step, std::string_view msg) {
        ctx.cancel.throw_if_cancelled();
        ctx.progress.report(pct, msg, meta(step, total, total));
      },
      &ctx.cancel);
  ctx.cancel.throw_if_cancelled();

  // 85-100 % output.
  ctx.progress.report(85, "Writing " + std::string(extension(req.format)) + " output",
                      meta("post_processing", total, total));
  DataTable out = compose_output(std::move(table), result);
  fs::path staged = ctx.env.artifacts->staging_path(extension(req.format));
  try {
    write_table(out, req.format, staged);
    ctx.cancel.throw_if_cancelled();
    const std::string name = "process_data-" + std::string(to_string(req.options.kind)) + "-" +
                             safe_name(ctx.request_id) + "." + extension(req.format);
    if (req.destination) {
      ctx.progress.report(92, "Copying output to " + *req.destination,
                          meta("post_processing", total, total));
      copy_to_destination(ctx, *req.destination, staged, name);
    }
    ctx.progress.report(96, "Publishing output", meta("post_processing", total, total));
    ArtifactInfo info = ctx.env.artifacts->publish(ctx.identity.tenant_id, staged, name);

    boost::json::object summary;
    summary["total_records"] = total;
    summary["processing_time"] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    summary["model_version"] = result.model_version;
    summary["pipeline"] = to_string(req.options.kind);
    summary["metrics"] = std::move(result.metrics);
    boost::json::object data;
    data["summary"] = std::move(summary);
    if (req.format == OutputFormat::kJson) data["data"] = sample_rows(out, kSampleRows);
    data["output_location"] = info.url;
    return HandlerResult{std::move(data), true};
  } catch (...) {
    std::error_code ec;
    fs::remove(staged, ec);
    throw;
  }
}

}  // namespace streamer::process
