// Progress of a long server call (Assess, SummarizeKl) on stderr: a redrawn bar when stderr is a
// terminal, otherwise one line per stage (and per temperature of a stage that runs once per
// temperature) so that logs stay readable.
#ifndef PRUNEGATE_CLIENT_PROGRESS_H_
#define PRUNEGATE_CLIENT_PROGRESS_H_

#include <ostream>
#include <string>

#include "prunegate/v1/prunegate.pb.h"

namespace prunegate::client {

// "stage", or "stage T=0.2" while the stage runs at one temperature (Progress.temperature).
std::string StageLabel(const v1::Progress& progress);
// "[##########          ]  50/100  stage T=0.2" for a bar of `width` cells (no total:
// "stage T=0.2 50").
std::string ProgressBar(const v1::Progress& progress, int width);

class ProgressReporter {
 public:
  ProgressReporter(std::ostream* err, bool tty) : err_(err), tty_(tty) {}
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;
  ~ProgressReporter() { Finish(); }

  void Update(const v1::Progress& progress);
  // Ends the bar's line (a terminal); call before printing results.
  void Finish();

 private:
  std::ostream* err_;
  bool tty_;
  bool drawn_ = false;  // a bar is on the current terminal line
  std::string stage_;   // the last StageLabel reported
};

}  // namespace prunegate::client

#endif  // PRUNEGATE_CLIENT_PROGRESS_H_
