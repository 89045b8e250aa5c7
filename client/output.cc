#include "client/output.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/json_util.h"

namespace prunegate::client {

Table::Table(std::vector<Column> columns) : columns_(std::move(columns)) {
  for (Column& column : columns_) column.width = std::max(column.width, column.header.size());
}

void Table::Fit(const std::vector<std::vector<std::string>>& rows) {
  for (const std::vector<std::string>& row : rows) {
    for (size_t i = 0; i < row.size() && i < columns_.size(); ++i) {
      columns_[i].width = std::max(columns_[i].width, row[i].size());
    }
  }
}

std::string Table::Header() const {
  std::vector<std::string> headers;
  for (const Column& column : columns_) headers.push_back(column.header);
  return Row(headers);
}

std::string Table::Row(const std::vector<std::string>& cells) const {
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) {
    const size_t width = i < columns_.size() ? columns_[i].width : 0;
    const bool left = i < columns_.size() && columns_[i].left;
    const std::string pad(width > cells[i].size() ? width - cells[i].size() : 0, ' ');
    if (i > 0) line += "  ";
    // The last left-aligned cell needs no trailing padding.
    if (left) {
      absl::StrAppend(&line, cells[i], i + 1 < cells.size() ? pad : "");
    } else {
      absl::StrAppend(&line, pad, cells[i]);
    }
  }
  line += '\n';
  return line;
}

std::string Table::Render(const std::vector<std::vector<std::string>>& rows) {
  Fit(rows);
  std::string out = Header();
  for (const std::vector<std::string>& row : rows) out += Row(row);
  return out;
}

std::string Num(double value) {
  if (std::isnan(value)) return "-";
  return absl::StrFormat("%.4g", value);
}

std::string Fixed(double value, int digits) {
  if (std::isnan(value)) return "-";
  return absl::StrFormat("%.*f", digits, value);
}

std::string Temp(double temperature) { return absl::StrFormat("%g", temperature); }

std::string Quoted(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += absl::StrFormat("\\x%02x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

std::string YesNo(bool value) { return value ? "yes" : "no"; }

std::string Mebibytes(int64_t bytes) {
  return absl::StrFormat("%.1f", static_cast<double>(bytes) / (1 << 20));
}

std::string JsonLine(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) return absl::StrCat("{\"error\":", Quoted(status.ToString()), "}");
  return json;
}

}  // namespace prunegate::client
