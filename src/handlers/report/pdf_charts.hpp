// Vector charts drawn with cairo onto a PdfCanvas page.
#pragma once

#include <string>
#include <vector>

#include "handlers/report/pdf_canvas.hpp"

namespace streamer::report {

struct ChartSeries {
  std::string name;
  std::vector<double> values;  // one per label
  Rgb color;
};

struct ChartBox {
  double x, y, width, height;
};

// Vertical bars of the first series (grouped when several), labelled axis,
// gridlines; labels are thinned so at most ~12 show.
void draw_column_chart(PdfCanvas& pdf, ChartBox box, const std::string& title,
                       const std::vector<std::string>& labels,
                       const std::vector<ChartSeries>& series);
// One polyline per series over the labels, with a legend.
void draw_line_chart(PdfCanvas& pdf, ChartBox box, const std::string& title,
                     const std::vector<std::string>& labels,
                     const std::vector<ChartSeries>& series);
// A pie of the (non-negative) values with a legend showing shares.
void draw_pie_chart(PdfCanvas& pdf, ChartBox box, const std::string& title,
                    const std::vector<std::string>& labels, const std::vector<double>& values);
// Horizontal bars, one per label, with values printed at the bar ends.
void draw_bar_chart(PdfCanvas& pdf, ChartBox box, const std::string& title,
                    const std::vector<std::string>& labels, const std::vector<double>& values,
                    Rgb color);

// A categorical palette colour.
Rgb palette(std::size_t index);

}  // namespace streamer::report
