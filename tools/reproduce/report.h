// docs/reproduction.md from an experiment: the tables, the verdict calibration and a plain
// statement of which parts of the paper's pattern hold on this model.
#ifndef PRUNEGATE_TOOLS_REPRODUCE_REPORT_H_
#define PRUNEGATE_TOOLS_REPRODUCE_REPORT_H_

#include <string>

#include "tools/reproduce/experiment.h"

namespace prunegate::reproduce {

// `command` is the command line that regenerates the report (printed in it).
std::string ReportMarkdown(const Experiment& e, const ExperimentOptions& o,
                           const std::string& command);

// Every number of the experiment as one JSON object (for scripts and plots).
std::string ReportJson(const Experiment& e, const ExperimentOptions& o);

}  // namespace prunegate::reproduce

#endif  // PRUNEGATE_TOOLS_REPRODUCE_REPORT_H_
