// A small page-flow helper over cairo's PDF surface and pango text layout.
#pragma once

#include <cairo.h>
#include <pango/pangocairo.h>

#include <filesystem>
#include <string>
#include <string_view>

namespace streamer::report {

struct Rgb {
  double r, g, b;
};

class PdfCanvas {
 public:
  static constexpr double kWidth = 595.0;  // A4 in points
  static constexpr double kHeight = 842.0;
  static constexpr double kMargin = 40.0;

  // Creates the PDF at `path` with its first page; throws on failure.
  explicit PdfCanvas(const std::filesystem::path& path, std::string title);
  ~PdfCanvas();
  PdfCanvas(const PdfCanvas&) = delete;
  PdfCanvas& operator=(const PdfCanvas&) = delete;

  cairo_t* cr() const noexcept { return cr_; }
  double y() const noexcept { return y_; }
  void set_y(double y) noexcept { y_ = y; }
  void advance(double dy) noexcept { y_ += dy; }
  double content_width() const noexcept { return kWidth - 2 * kMargin; }
  int page() const noexcept { return page_; }

  // Starts a new page when fewer than `height` points are left on this one.
  // Returns true if it did.
  bool ensure_space(double height);
  void new_page();

  enum class Align { kLeft, kRight, kCenter };
  // Draws `text` at (x, y) in a box `width` wide; returns the text height.
  double text(double x, double y, std::string_view text, double size, bool bold = false,
              Align align = Align::kLeft, double width = 0, Rgb color = {0.1, 0.1, 0.1});
  // Width of `text` in points.
  double text_width(std::string_view text, double size, bool bold = false);

  // Finishes the document (footer on the last page, flush). Throws on error.
  void finish();

 private:
  void footer();
  void set_font(double size, bool bold);

  cairo_surface_t* surface_ = nullptr;
  cairo_t* cr_ = nullptr;
  PangoLayout* layout_ = nullptr;
  std::string title_;
  double y_ = kMargin;
  int page_ = 1;
  bool finished_ = false;
};

}  // namespace streamer::report
