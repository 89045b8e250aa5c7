// Output formatting shared by the commands: aligned text tables (fixed widths for rows that
// stream in, fitted widths for complete results), number and text cells, and one-line JSON for a
// protobuf message (the --json output of the streaming commands).
#ifndef PRUNEGATE_CLIENT_OUTPUT_H_
#define PRUNEGATE_CLIENT_OUTPUT_H_

#include <string>
#include <vector>

#include "google/protobuf/message.h"

namespace prunegate::client {

struct Column {
  std::string header;
  size_t width = 0;   // minimum width; the header always fits
  bool left = false;  // text columns are left-aligned, numbers right-aligned
};

class Table {
 public:
  explicit Table(std::vector<Column> columns);

  // Widens the columns so that every cell of `rows` fits (for a complete table).
  void Fit(const std::vector<std::vector<std::string>>& rows);
  // The header line and one line per row, each ending in '\n'. Columns are separated by two
  // spaces; a cell wider than its column is kept whole and pushes the rest of its row right.
  std::string Header() const;
  std::string Row(const std::vector<std::string>& cells) const;
  // Fit + Header + every Row.
  std::string Render(const std::vector<std::vector<std::string>>& rows);

 private:
  std::vector<Column> columns_;
};

// Four significant digits ("0.01234", "1.5e-05", "12.35"); "-" for NaN.
std::string Num(double value);
// "0.72" style: fixed `digits` decimals.
std::string Fixed(double value, int digits);
// A temperature as typed: 0.2 → "0.2", 1 → "1".
std::string Temp(double temperature);
// Text in double quotes with C escapes (\n, \t, \", \\, \xNN for other control bytes), for
// token texts and continuations.
std::string Quoted(const std::string& text);
// "yes" / "no".
std::string YesNo(bool value);
// Bytes as mebibytes with one decimal.
std::string Mebibytes(int64_t bytes);

// The message as one line of JSON: proto field names (snake_case), enums by name, fields at
// their default values included.
std::string JsonLine(const google::protobuf::Message& message);

}  // namespace prunegate::client

#endif  // PRUNEGATE_CLIENT_OUTPUT_H_
