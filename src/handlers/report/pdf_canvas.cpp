#include "handlers/report/pdf_canvas.hpp"

#include <cairo-pdf.h>

#include <stdexcept>

namespace streamer::report {

PdfCanvas::PdfCanvas(const std::filesystem::path& path, std::string title)
    : title_(std::move(title)) {
  surface_ = cairo_pdf_surface_create(path.c_str(), kWidth, kHeight);
  if (cairo_surface_status(surface_) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(surface_);
    throw std::runtime_error("cannot create PDF " + path.string());
  }
  cairo_pdf_surface_set_metadata(surface_, CAIRO_PDF_METADATA_TITLE, title_.c_str());
  cairo_pdf_surface_set_metadata(surface_, CAIRO_PDF_METADATA_CREATOR, "Streamer generate_report");
  cr_ = cairo_create(surface_);
  layout_ = pango_cairo_create_layout(cr_);
}

PdfCanvas::~PdfCanvas() {
  if (layout_) g_object_unref(layout_);
  if (cr_) cairo_destroy(cr_);
  if (surface_) cairo_surface_destroy(surface_);
}

void PdfCanvas::set_font(double size, bool bold) {
  PangoFontDescription* font = pango_font_description_new();
  pango_font_description_set_family(font, "DejaVu Sans");
  pango_font_description_set_weight(font, bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
  pango_font_description_set_absolute_size(font, size * PANGO_SCALE);
  pango_layout_set_font_description(layout_, font);
  pango_font_description_free(font);
}

double PdfCanvas::text_width(std::string_view text, double size, bool bold) {
  set_font(size, bold);
  pango_layout_set_width(layout_, -1);
  pango_layout_set_text(layout_, text.data(), static_cast<int>(text.size()));
  int w = 0, h = 0;
  pango_layout_get_size(layout_, &w, &h);
  return static_cast<double>(w) / PANGO_SCALE;
}

double PdfCanvas::text(double x, double y, std::string_view text, double size, bool bold,
                       Align align, double width, Rgb color) {
  set_font(size, bold);
  pango_layout_set_text(layout_, text.data(), static_cast<int>(text.size()));
  pango_layout_set_width(layout_, -1);
  int w = 0, h = 0;
  pango_layout_get_size(layout_, &w, &h);
  double tw = static_cast<double>(w) / PANGO_SCALE;
  double dx = 0;
  if (width > 0 && align == Align::kRight) dx = width - tw;
  if (width > 0 && align == Align::kCenter) dx = (width - tw) / 2;
  cairo_set_source_rgb(cr_, color.r, color.g, color.b);
  cairo_move_to(cr_, x + dx, y);
  pango_cairo_show_layout(cr_, layout_);
  return static_cast<double>(h) / PANGO_SCALE;
}

bool PdfCanvas::ensure_space(double height) {
  if (y_ + height <= kHeight - kMargin - 10) return false;
  new_page();
  return true;
}

void PdfCanvas::footer() {
  std::string label = title_ + "  ·  page " + std::to_string(page_);
  text(kMargin, kHeight - kMargin + 8, label, 7, false, Align::kRight, content_width(),
       {0.45, 0.45, 0.45});
}

void PdfCanvas::new_page() {
  footer();
  cairo_show_page(cr_);
  ++page_;
  y_ = kMargin;
}

void PdfCanvas::finish() {
  if (finished_) return;
  finished_ = true;
  footer();
  cairo_show_page(cr_);
  cairo_surface_finish(surface_);
  if (cairo_surface_status(surface_) != CAIRO_STATUS_SUCCESS) {
    throw std::runtime_error(std::string("PDF write failed: ") +
                             cairo_status_to_string(cairo_surface_status(surface_)));
  }
}

}  // namespace streamer::report
