#include "tools/corpus/text_template.h"

namespace prunegate::corpus {

void AppendFilled(std::string_view tmpl, std::initializer_list<Slot> slots, std::string* out) {
  size_t i = 0;
  while (i < tmpl.size()) {
    const size_t open = tmpl.find('{', i);
    if (open == std::string_view::npos || open + 2 >= tmpl.size() || tmpl[open + 2] != '}') {
      const size_t stop = open == std::string_view::npos ? tmpl.size() : open + 1;
      out->append(tmpl.substr(i, stop - i));
      i = stop;
      continue;
    }
    out->append(tmpl.substr(i, open - i));
    const char key = tmpl[open + 1];
    bool found = false;
    for (const Slot& slot : slots) {
      if (slot.first == key) {
        out->append(slot.second);
        found = true;
        break;
      }
    }
    if (!found) out->append(tmpl.substr(open, 3));
    i = open + 3;
  }
}

std::string Fill(std::string_view tmpl, std::initializer_list<Slot> slots) {
  std::string out;
  AppendFilled(tmpl, slots, &out);
  return out;
}

std::vector<std::string> LiteralPieces(std::string_view tmpl) {
  std::vector<std::string> pieces;
  std::string current;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] == '{' && i + 2 < tmpl.size() && tmpl[i + 2] == '}') {
      if (!current.empty()) pieces.push_back(current);
      current.clear();
      i += 2;
    } else {
      current.push_back(tmpl[i]);
    }
  }
  if (!current.empty()) pieces.push_back(current);
  return pieces;
}

}  // namespace prunegate::corpus
