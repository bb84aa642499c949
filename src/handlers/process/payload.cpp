#include "handlers/process/payload.hpp"

#include "core/handler.hpp"
#include "handlers/process/file_sandbox.hpp"
#include "handlers/process/stream_store.hpp"

namespace streamer::process {
namespace {

using boost::json::value;

HandlerError invalid(std::string_view field, std::string_view expected, const value* got,
                     const std::string& msg) {
  return HandlerError::validation(field, expected, got ? *got : value(nullptr), msg);
}

const boost::json::object& need_object(const boost::json::object& o, std::string_view key) {
  const value* v = o.if_contains(key);
  if (!v || !v->is_object())
    throw invalid(key, "an object", v, std::string(key) + " must be an object");
  return v->as_object();
}

std::string need_string(const boost::json::object& o, std::string_view key, std::string_view field,
                        std::string_view expected) {
  const value* v = o.if_contains(key);
  if (!v || !v->is_string() || v->as_string().empty())
    throw invalid(field, expected, v, std::string(field) + " is required");
  return std::string(v->as_string());
}

double number_in(const boost::json::object& opts, std::string_view key, double lo, double hi,
                 double fallback, bool lo_open = false) {
  const value* v = opts.if_contains(key);
  if (!v || v->is_null()) return fallback;
  std::string field = "options." + std::string(key);
  std::string expected = std::string("a number in ") + (lo_open ? "(" : "[") + std::to_string(lo) +
                         ", " + std::to_string(hi) + "]";
  if (!v->is_number()) throw invalid(field, expected, v, field + " must be a number");
  double d = v->to_number<double>();
  if (!(d <= hi) || (lo_open ? !(d > lo) : !(d >= lo)))
    throw invalid(field, expected, v, field + " is out of range");
  return d;
}

long long int_in(const boost::json::object& opts, std::string_view key, long long lo, long long hi,
                 long long fallback) {
  const value* v = opts.if_contains(key);
  if (!v || v->is_null()) return fallback;
  std::string field = "options." + std::string(key);
  std::string expected = "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  if (!(v->is_int64() || v->is_uint64()))
    throw invalid(field, expected, v, field + " must be an integer");
  long long n = v->is_int64()
                    ? v->as_int64()
                    : static_cast<long long>(std::min<std::uint64_t>(v->as_uint64(), 1ULL << 62));
  if (n < lo || n > hi) throw invalid(field, expected, v, field + " is out of range");
  return n;
}

bool has_scheme(std::string_view s) {
  auto colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  for (std::size_t i = 0; i < colon; ++i)
    if (!(std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '+' || s[i] == '-' ||
          s[i] == '.'))
      return false;
  return true;
}

}  // namespace

ProcessRequest parse_process_payload(const boost::json::object& p) {
  ProcessRequest req;
  const value* pipeline = p.if_contains("pipeline");
  const std::string kinds = "one of classification, regression, clustering, anomaly";
  if (!pipeline || !pipeline->is_string())
    throw invalid("pipeline", kinds, pipeline, "pipeline is required");
  auto name = pipeline->as_string();
  if (name == "classification")
    req.options.kind = PipelineKind::kClassification;
  else if (name == "regression")
    req.options.kind = PipelineKind::kRegression;
  else if (name == "clustering")
    req.options.kind = PipelineKind::kClustering;
  else if (name == "anomaly")
    req.options.kind = PipelineKind::kAnomaly;
  else
    throw invalid("pipeline", kinds, pipeline, "unknown pipeline");

  const auto& src = need_object(p, "data_source");
  const value* type = src.if_contains("type");
  const std::string types = "one of file, query, stream";
  if (!type || !type->is_string())
    throw invalid("data_source.type", types, type, "data_source.type is required");
  if (type->as_string() == "file") {
    req.source.type = DataSourceSpec::Type::kFile;
    req.source.path = need_string(src, "path", "data_source.path",
                                  "a path inside your file sandbox, e.g. /data/input.csv");
    check_client_path(req.source.path, "data_source.path");
  } else if (type->as_string() == "query") {
    req.source.type = DataSourceSpec::Type::kQuery;
    req.source.query = need_string(src, "query", "data_source.query", "a single SELECT statement");
    if (req.source.query.size() > 100'000)
      throw invalid("data_source.query", "at most 100000 characters", nullptr,
                    "the query is too long");
  } else if (type->as_string() == "stream") {
    req.source.type = DataSourceSpec::Type::kStream;
    req.source.stream_id = need_string(src, "stream_id", "data_source.stream_id", "a stream id");
    if (!valid_stream_id(req.source.stream_id))
      throw invalid("data_source.stream_id", "1-128 characters of [A-Za-z0-9._:-]",
                    src.if_contains("stream_id"), "invalid stream_id");
  } else {
    throw invalid("data_source.type", types, type, "unknown data_source.type");
  }

  const auto& output = need_object(p, "output");
  const value* fmt = output.if_contains("format");
  if (!fmt || !fmt->is_string() || !parse_output_format(fmt->as_string(), req.format))
    throw invalid("output.format", "one of json, csv, parquet", fmt,
                  "output.format must be json, csv or parquet");
  if (const value* dest = output.if_contains("destination"); dest && !dest->is_null()) {
    const std::string expected = "a path prefix inside your file sandbox, e.g. /results/";
    if (!dest->is_string())
      throw invalid("output.destination", expected, dest, "output.destination must be a string");
    std::string d(dest->as_string());
    if (has_scheme(d))
      throw invalid("output.destination", expected, dest,
                    "unsupported destination scheme '" + d.substr(0, d.find(':')) +
                        "': only paths inside your file sandbox can be written");
    check_client_path(d, "output.destination");
    req.destination = d;
  }

  const value* ov = p.if_contains("options");
  if (ov && !ov->is_null() && !ov->is_object())
    throw invalid("options", "an object", ov, "options must be an object");
  static const boost::json::object empty;
  const auto& o = (ov && ov->is_object()) ? ov->as_object() : empty;
  auto& opt = req.options;
  opt.confidence_threshold = number_in(o, "confidence_threshold", 0, 1, opt.confidence_threshold);
  opt.max_iterations = static_cast<int>(int_in(o, "max_iterations", 1, 10'000, opt.max_iterations));
  if (o.contains("k")) opt.k_given = static_cast<int>(int_in(o, "k", 1, 100, 3));
  opt.k = opt.k_given.value_or(3);
  if (opt.kind == PipelineKind::kClustering && opt.k < 2)
    throw invalid("options.k", "an integer in [2, 100]", o.if_contains("k"),
                  "clustering needs k >= 2");
  if (opt.kind == PipelineKind::kAnomaly && opt.k > 10)
    throw invalid("options.k", "an integer in [1, 10] (mixture components)", o.if_contains("k"),
                  "too many components");
  opt.test_fraction = number_in(o, "test_fraction", 0, 0.9, opt.test_fraction, true);
  opt.seed = static_cast<std::uint64_t>(int_in(o, "seed", 0, (1LL << 53), 42));
  opt.contamination = number_in(o, "contamination", 0, 0.5, opt.contamination, true);
  if (o.contains("max_depth") && !o.at("max_depth").is_null())
    opt.max_depth = static_cast<int>(int_in(o, "max_depth", 1, 30, 6));
  opt.learning_rate = number_in(o, "learning_rate", 0, 1, opt.learning_rate, true);
  if (const value* e = o.if_contains("early_stopping"); e && !e->is_null()) {
    if (e->is_bool())
      opt.early_stopping = e->as_bool();
    else if (!(e->is_string() && e->as_string() == "auto"))
      throw invalid("options.early_stopping", "true, false or \"auto\"", e,
                    "options.early_stopping must be true, false or \"auto\"");
  }
  opt.validation_fraction =
      number_in(o, "validation_fraction", 0, 0.5, opt.validation_fraction, true);
  opt.n_iter_no_change =
      static_cast<int>(int_in(o, "n_iter_no_change", 1, 1'000, opt.n_iter_no_change));
  opt.max_train_rows =
      static_cast<std::size_t>(int_in(o, "max_train_rows", 10, 10'000'000, 200'000));
  if (const value* t = o.if_contains("target"); t && !t->is_null()) {
    if (!t->is_string() || t->as_string().empty())
      throw invalid("options.target", "a column name", t, "options.target must be a column name");
    opt.target = std::string(t->as_string());
  }
  if (const value* f = o.if_contains("features"); f && !f->is_null()) {
    if (!f->is_array())
      throw invalid("options.features", "an array of column names", f,
                    "options.features must be an array");
    for (const auto& n : f->as_array()) {
      if (!n.is_string() || n.as_string().empty())
        throw invalid("options.features", "an array of column names", f,
                      "options.features must hold column names");
      opt.features.emplace_back(n.as_string());
    }
  }
  if (const value* m = o.if_contains("model"); m && !m->is_null()) {
    const bool regression = opt.kind == PipelineKind::kRegression;
    const bool supervised = regression || opt.kind == PipelineKind::kClassification;
    const char* expected = regression ? "one of linear, boosted_trees, random_forest"
                                      : "boosted_trees or random_forest (supervised pipelines)";
    if (!supervised || !m->is_string() ||
        !(m->as_string() == "boosted_trees" || m->as_string() == "random_forest" ||
          (regression && m->as_string() == "linear")))
      throw invalid("options.model", expected, m, "unknown model for this pipeline");
    opt.model = std::string(m->as_string());
  }
  return req;
}

}  // namespace streamer::process
