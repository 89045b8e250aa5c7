#include "client/progress.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/output.h"

namespace prunegate::client {

std::string StageLabel(const v1::Progress& progress) {
  if (!progress.has_temperature() || progress.temperature() <= 0) return progress.stage();
  return absl::StrCat(progress.stage(), " T=", Temp(progress.temperature()));
}

std::string ProgressBar(const v1::Progress& progress, int width) {
  if (progress.total() <= 0) return absl::StrCat(StageLabel(progress), " ", progress.done());
  const double fraction = std::clamp(
      static_cast<double>(progress.done()) / static_cast<double>(progress.total()), 0.0, 1.0);
  const int filled = static_cast<int>(fraction * width + 0.5);
  return absl::StrFormat("[%s%s] %*d/%d  %s", std::string(filled, '#'),
                         std::string(width - filled, ' '),
                         static_cast<int>(absl::StrCat(progress.total()).size()), progress.done(),
                         progress.total(), StageLabel(progress));
}

void ProgressReporter::Update(const v1::Progress& progress) {
  if (tty_) {
    // \r and clear-to-end-of-line: redraw in place.
    *err_ << "\r\033[K" << ProgressBar(progress, 30) << std::flush;
    drawn_ = true;
    return;
  }
  const std::string label = StageLabel(progress);
  if (label == stage_) return;
  stage_ = label;
  *err_ << "prunegate: " << stage_;
  if (progress.total() > 0) *err_ << " (" << progress.total() << ")";
  *err_ << std::endl;
}

void ProgressReporter::Finish() {
  if (!drawn_) return;
  *err_ << "\n" << std::flush;
  drawn_ = false;
}

}  // namespace prunegate::client
