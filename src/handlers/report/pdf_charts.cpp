#include "handlers/report/pdf_charts.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>

#include "handlers/report/report_data.hpp"

namespace streamer::report {
namespace {

// A "nice" axis maximum >= value (1, 2, 2.5, 5 x 10^n).
double nice_max(double value) {
  if (value <= 0) return 1;
  double magnitude = std::pow(10.0, std::floor(std::log10(value)));
  for (double step : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (step * magnitude >= value) return step * magnitude;
  }
  return 10 * magnitude;
}

std::string short_number(double value) {
  char buffer[32];
  double a = std::fabs(value);
  if (a >= 1e9)
    std::snprintf(buffer, sizeof buffer, "%.1fB", value / 1e9);
  else if (a >= 1e6)
    std::snprintf(buffer, sizeof buffer, "%.1fM", value / 1e6);
  else if (a >= 1e3)
    std::snprintf(buffer, sizeof buffer, "%.0fk", value / 1e3);
  else
    std::snprintf(buffer, sizeof buffer, "%.0f", value);
  return buffer;
}

void set(cairo_t* cr, Rgb c) { cairo_set_source_rgb(cr, c.r, c.g, c.b); }

struct Plot {
  double left, top, width, height, max;
};

// Title, y gridlines and axis labels; returns the plotting area.
Plot frame(PdfCanvas& pdf, ChartBox box, const std::string& title, double max_value) {
  cairo_t* cr = pdf.cr();
  pdf.text(box.x, box.y, title, 10, true);
  Plot p{box.x + 45, box.y + 20, box.width - 55, box.height - 45, nice_max(max_value)};
  cairo_set_line_width(cr, 0.4);
  for (int i = 0; i <= 4; ++i) {
    double v = p.max * i / 4;
    double y = p.top + p.height - p.height * i / 4;
    set(cr, {0.85, 0.85, 0.85});
    cairo_move_to(cr, p.left, y);
    cairo_line_to(cr, p.left + p.width, y);
    cairo_stroke(cr);
    pdf.text(box.x, y - 5, short_number(v), 7, false, PdfCanvas::Align::kRight, 40,
             {0.4, 0.4, 0.4});
  }
  return p;
}

void x_labels(PdfCanvas& pdf, const Plot& p, const std::vector<std::string>& labels) {
  if (labels.empty()) return;
  const double slot = p.width / static_cast<double>(labels.size());
  const std::size_t every = std::max<std::size_t>(1, (labels.size() + 11) / 12);
  for (std::size_t i = 0; i < labels.size(); i += every) {
    pdf.text(p.left + slot * static_cast<double>(i) - 10, p.top + p.height + 3, labels[i], 6, false,
             PdfCanvas::Align::kCenter, slot + 20, {0.3, 0.3, 0.3});
  }
}

void legend(PdfCanvas& pdf, double x, double y, const std::vector<ChartSeries>& series) {
  for (const auto& s : series) {
    set(pdf.cr(), s.color);
    cairo_rectangle(pdf.cr(), x, y + 2, 8, 8);
    cairo_fill(pdf.cr());
    pdf.text(x + 11, y, s.name, 7);
    x += 20 + pdf.text_width(s.name, 7);
  }
}

double max_of(const std::vector<ChartSeries>& series) {
  double m = 0;
  for (const auto& s : series) {
    for (double v : s.values) m = std::max(m, v);
  }
  return m;
}

}  // namespace

Rgb palette(std::size_t index) {
  static constexpr Rgb kColors[] = {{0.20, 0.42, 0.69}, {0.91, 0.49, 0.16}, {0.30, 0.65, 0.33},
                                    {0.80, 0.25, 0.27}, {0.55, 0.42, 0.71}, {0.55, 0.35, 0.28},
                                    {0.89, 0.47, 0.76}, {0.50, 0.50, 0.50}};
  return kColors[index % (sizeof kColors / sizeof kColors[0])];
}

void draw_column_chart(PdfCanvas& pdf, ChartBox box, const std::string& title,
                       const std::vector<std::string>& labels,
                       const std::vector<ChartSeries>& series) {
  Plot p = frame(pdf, box, title, max_of(series));
  if (labels.empty() || series.empty()) return;
  const double slot = p.width / static_cast<double>(labels.size());
  const double bar = std::max(0.5, slot * 0.8 / static_cast<double>(series.size()));
  for (std::size_t s = 0; s < series.size(); ++s) {
    set(pdf.cr(), series[s].color);
    for (std::size_t i = 0; i < labels.size() && i < series[s].values.size(); ++i) {
      double h = std::max(0.0, series[s].values[i]) / p.max * p.height;
      cairo_rectangle(
          pdf.cr(),
          p.left + slot * static_cast<double>(i) + slot * 0.1 + bar * static_cast<double>(s),
          p.top + p.height - h, bar, h);
    }
    cairo_fill(pdf.cr());
  }
  x_labels(pdf, p, labels);
  legend(pdf, p.left, box.y + box.height - 10, series);
}

void draw_line_chart(PdfCanvas& pdf, ChartBox box, const std::string& title,
                     const std::vector<std::string>& labels,
                     const std::vector<ChartSeries>& series) {
  Plot p = frame(pdf, box, title, max_of(series));
  if (labels.empty()) return;
  const double slot = p.width / static_cast<double>(labels.size());
  cairo_set_line_width(pdf.cr(), 1.4);
  for (const auto& s : series) {
    set(pdf.cr(), s.color);
    for (std::size_t i = 0; i < labels.size() && i < s.values.size(); ++i) {
      double x = p.left + slot * (static_cast<double>(i) + 0.5);
      double y = p.top + p.height - std::max(0.0, s.values[i]) / p.max * p.height;
      if (i == 0)
        cairo_move_to(pdf.cr(), x, y);
      else
        cairo_line_to(pdf.cr(), x, y);
    }
    cairo_stroke(pdf.cr());
  }
  x_labels(pdf, p, labels);
  legend(pdf, p.left, box.y + box.height - 10, series);
}

void draw_pie_chart(PdfCanvas& pdf, ChartBox box, const std::string& title,
                    const std::vector<std::string>& labels, const std::vector<double>& values) {
  pdf.text(box.x, box.y, title, 10, true);
  double total = 0;
  for (double v : values) total += std::max(0.0, v);
  const double radius = std::min(box.width / 2 - 20, box.height - 40) / 2;
  const double cx = box.x + radius + 10, cy = box.y + 25 + radius;
  double angle = -std::numbers::pi / 2;
  double ly = box.y + 25;
  for (std::size_t i = 0; i < labels.size() && i < values.size(); ++i) {
    double share = total > 0 ? std::max(0.0, values[i]) / total : 0;
    set(pdf.cr(), palette(i));
    if (share > 0) {
      cairo_move_to(pdf.cr(), cx, cy);
      cairo_arc(pdf.cr(), cx, cy, radius, angle, angle + share * 2 * std::numbers::pi);
      cairo_close_path(pdf.cr());
      cairo_fill(pdf.cr());
      angle += share * 2 * std::numbers::pi;
    }
    cairo_rectangle(pdf.cr(), cx + radius + 30, ly + 2, 8, 8);
    cairo_fill(pdf.cr());
    char pct[32];
    std::snprintf(pct, sizeof pct, "%.1f %%", share * 100);
    pdf.text(cx + radius + 42, ly, labels[i] + "  " + pct, 8);
    ly += 13;
  }
}

void draw_bar_chart(PdfCanvas& pdf, ChartBox box, const std::string& title,
                    const std::vector<std::string>& labels, const std::vector<double>& values,
                    Rgb color) {
  pdf.text(box.x, box.y, title, 10, true);
  if (labels.empty()) return;
  double max = 0;
  for (double v : values) max = std::max(max, v);
  max = nice_max(max);
  const double left = box.x + 110, width = box.width - 190;
  const double row = std::min(22.0, (box.height - 25) / static_cast<double>(labels.size()));
  double y = box.y + 22;
  for (std::size_t i = 0; i < labels.size() && i < values.size(); ++i) {
    pdf.text(box.x, y + row * 0.15, labels[i], 8, false, PdfCanvas::Align::kRight, 100);
    double w = std::max(0.0, values[i]) / max * width;
    set(pdf.cr(), color);
    cairo_rectangle(pdf.cr(), left, y, w, row * 0.7);
    cairo_fill(pdf.cr());
    pdf.text(left + w + 4, y + row * 0.15, format_money(values[i]), 7);
    y += row;
  }
}

}  // namespace streamer::report
