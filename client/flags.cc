#include "client/flags.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace prunegate::client {
namespace {

// Parses every comma-separated item of `text` with `parse_one`.
template <typename T, typename ParseOne>
absl::StatusOr<std::vector<T>> ParseList(absl::string_view text, const char* kind,
                                         ParseOne parse_one) {
  std::vector<T> out;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    item = absl::StripAsciiWhitespace(item);
    T value;
    if (item.empty() || !parse_one(item, &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "' is not a comma-separated list of ", kind));
    }
    out.push_back(value);
  }
  return out;
}

using Setter = std::function<absl::Status(absl::string_view)>;

// Parses a flag's value with `parse` into `*dest`; "'V' is not <kind>" when it fails.
template <typename T>
Setter ScalarSetter(T* dest, bool (*parse)(absl::string_view, T*), const char* kind) {
  return [dest, parse, kind](absl::string_view v) {
    if (parse(v, dest)) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat("'", v, "' is not ", kind));
  };
}

template <typename T>
Setter ListSetter(std::vector<T>* dest,
                  absl::StatusOr<std::vector<T>> (*parse)(absl::string_view)) {
  return [dest, parse](absl::string_view v) {
    absl::StatusOr<std::vector<T>> list = parse(v);
    if (!list.ok()) return list.status();
    *dest = *std::move(list);
    return absl::OkStatus();
  };
}

}  // namespace

absl::StatusOr<std::vector<double>> ParseDoubleList(absl::string_view text) {
  return ParseList<double>(text, "numbers",
                           [](absl::string_view s, double* v) { return absl::SimpleAtod(s, v); });
}

absl::StatusOr<std::vector<int64_t>> ParseIntList(absl::string_view text) {
  return ParseList<int64_t>(text, "integers",
                            [](absl::string_view s, int64_t* v) { return absl::SimpleAtoi(s, v); });
}

std::string Wrap(absl::string_view text, size_t width, size_t indent) {
  std::string out;
  size_t column = indent;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (column > indent && column + 1 + word.size() > width) {
      absl::StrAppend(&out, "\n", std::string(indent, ' '));
      column = indent;
    } else if (!out.empty()) {
      out += ' ';
      ++column;
    }
    absl::StrAppend(&out, word);
    column += word.size();
  }
  return out;
}

FlagSet::FlagSet(std::string command, std::string synopsis, std::string description)
    : command_(std::move(command)),
      synopsis_(std::move(synopsis)),
      description_(std::move(description)) {}

void FlagSet::Add(const std::string& name, std::string value_name, std::string help,
                  std::function<absl::Status(absl::string_view)> set) {
  if (flags_.count(name) == 0) order_.push_back(name);
  flags_[name] = Flag{std::move(value_name), std::move(help), section_, std::move(set)};
}

void FlagSet::AddString(const std::string& name, std::string* dest, const std::string& value_name,
                        const std::string& help) {
  Add(name, value_name, help, [dest](absl::string_view v) {
    *dest = std::string(v);
    return absl::OkStatus();
  });
}

void FlagSet::AddInt(const std::string& name, int64_t* dest, const std::string& value_name,
                     const std::string& help) {
  Add(name, value_name, help, ScalarSetter<int64_t>(dest, absl::SimpleAtoi, "an integer"));
}

void FlagSet::AddDouble(const std::string& name, double* dest, const std::string& value_name,
                        const std::string& help) {
  Add(name, value_name, help, ScalarSetter<double>(dest, absl::SimpleAtod, "a number"));
}

void FlagSet::AddDoubleList(const std::string& name, std::vector<double>* dest,
                            const std::string& value_name, const std::string& help) {
  Add(name, value_name, help, ListSetter<double>(dest, ParseDoubleList));
}

void FlagSet::AddIntList(const std::string& name, std::vector<int64_t>* dest,
                         const std::string& value_name, const std::string& help) {
  Add(name, value_name, help, ListSetter<int64_t>(dest, ParseIntList));
}

void FlagSet::AddRepeatedString(const std::string& name, std::vector<std::string>* dest,
                                const std::string& value_name, const std::string& help) {
  Add(name, value_name, help, [dest](absl::string_view v) {
    dest->emplace_back(v);
    return absl::OkStatus();
  });
}

void FlagSet::AddBool(const std::string& name, bool* dest, const std::string& help) {
  Add(name, "", help, ScalarSetter<bool>(dest, absl::SimpleAtob, "true or false"));
}

absl::Status FlagSet::SetFlag(const std::string& name, const Flag& flag, absl::string_view value) {
  absl::Status status = flag.set(value);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", status.message()));
  }
  set_.insert(name);
  return absl::OkStatus();
}

absl::Status FlagSet::Parse(const std::vector<std::string>& args, bool stop_at_positional) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      positional_.insert(positional_.end(), args.begin() + i + 1, args.end());
      return absl::OkStatus();
    }
    if (arg == "--help" || arg == "-h") {
      help_requested_ = true;
      continue;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      if (stop_at_positional) {
        positional_.insert(positional_.end(), args.begin() + i, args.end());
        return absl::OkStatus();
      }
      positional_.push_back(arg);
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag ", arg));
    }
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    auto it = flags_.find(name);
    if (it == flags_.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    const Flag& flag = it->second;
    if (eq != std::string::npos) {
      absl::Status status = SetFlag(name, flag, absl::string_view(arg).substr(eq + 1));
      if (!status.ok()) return status;
    } else if (flag.value_name.empty()) {
      absl::Status status = SetFlag(name, flag, "true");
      if (!status.ok()) return status;
    } else {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " needs a value (", flag.value_name, ")"));
      }
      absl::Status status = SetFlag(name, flag, args[++i]);
      if (!status.ok()) return status;
    }
  }
  return absl::OkStatus();
}

absl::Status FlagSet::Require(const std::vector<std::string>& names) const {
  for (const std::string& name : names) {
    if (!IsSet(name)) return absl::InvalidArgumentError(absl::StrCat("missing --", name));
  }
  return absl::OkStatus();
}

absl::Status FlagSet::RequireExactlyOne(const std::vector<std::string>& names) const {
  int given = 0;
  for (const std::string& name : names) given += IsSet(name) ? 1 : 0;
  if (given == 1) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("give exactly one of --", absl::StrJoin(names, ", --")));
}

absl::Status FlagSet::NoPositional() const {
  if (positional_.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("unexpected argument '", positional_.front(), "'"));
}

std::string FlagSet::Usage() const {
  constexpr size_t kWidth = 100;
  std::string out = Wrap(absl::StrCat("usage: prunegate ", command_, " ", synopsis_), kWidth, 4);
  absl::StrAppend(&out, "\n");
  if (!description_.empty()) absl::StrAppend(&out, "\n", Wrap(description_, kWidth, 0), "\n");
  std::vector<std::string> left;
  size_t width = 0;
  for (const std::string& name : order_) {
    const Flag& flag = flags_.at(name);
    left.push_back(
        absl::StrCat("  --", name, flag.value_name.empty() ? "" : " " + flag.value_name));
    width = std::max(width, left.back().size());
  }
  std::string section;
  for (size_t i = 0; i < order_.size(); ++i) {
    const Flag& flag = flags_.at(order_[i]);
    if (flag.section != section) {
      section = flag.section;
      absl::StrAppend(&out, "\n", section, ":\n");
    }
    absl::StrAppend(&out, left[i], std::string(width + 2 - left[i].size(), ' '),
                    Wrap(flag.help, kWidth, width + 2), "\n");
  }
  return out;
}

}  // namespace prunegate::client
