#pragma once
// Files embedded into the binary at build time (generated from
// engine/report/assets/ and the npm package uplot; see
// engine/report/assets/assets.cmake). Nothing is read from disk at run time.
#include <string_view>

namespace loadpilot::report::assets {

extern const std::string_view kReportHtml;  // the page template
extern const std::string_view kReportCss;
extern const std::string_view kReportJs;
extern const std::string_view kUplotJs;   // uplot/dist/uPlot.iife.min.js
extern const std::string_view kUplotCss;  // uplot/dist/uPlot.min.css

}  // namespace loadpilot::report::assets
