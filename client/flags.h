// Command-line flags for the prunegate CLI: one FlagSet per command, flags bound to the fields of
// that command's options struct. Accepts `--name value` and `--name=value`; boolean flags take no
// value (`--json`, or `--json=false`); `--` ends the flags; `--help` / `-h` ask for the usage.
// Values are parsed when the flag is read, so `--steps abc` fails with the flag's name.
#ifndef PRUNEGATE_CLIENT_FLAGS_H_
#define PRUNEGATE_CLIENT_FLAGS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prunegate::client {

// "0.2,0.7,1.0" → {0.2, 0.7, 1.0}. INVALID_ARGUMENT for an empty list, an empty item or a
// non-number.
absl::StatusOr<std::vector<double>> ParseDoubleList(absl::string_view text);
// "3,4" → {3, 4}. INVALID_ARGUMENT as above.
absl::StatusOr<std::vector<int64_t>> ParseIntList(absl::string_view text);

// `text` broken at spaces into lines of at most `width` columns (a longer word stays whole) for
// a caller that places it at column `indent`: the lines after the first are indented by `indent`
// spaces. No trailing newline.
std::string Wrap(absl::string_view text, size_t width, size_t indent);

class FlagSet {
 public:
  // `command` is what the user typed to reach this set ("models derive"); `synopsis` the rest of
  // the usage line ("--baseline B --name N ..."); `description` a paragraph under it.
  FlagSet(std::string command, std::string synopsis, std::string description);

  // `value_name` is shown in the usage ("--steps N"); `help` is one line.
  void AddString(const std::string& name, std::string* dest, const std::string& value_name,
                 const std::string& help);
  void AddInt(const std::string& name, int64_t* dest, const std::string& value_name,
              const std::string& help);
  void AddDouble(const std::string& name, double* dest, const std::string& value_name,
                 const std::string& help);
  void AddDoubleList(const std::string& name, std::vector<double>* dest,
                     const std::string& value_name, const std::string& help);
  void AddIntList(const std::string& name, std::vector<int64_t>* dest,
                  const std::string& value_name, const std::string& help);
  // Repeatable: every occurrence appends its value (`--prompt A --prompt B`).
  void AddRepeatedString(const std::string& name, std::vector<std::string>* dest,
                         const std::string& value_name, const std::string& help);
  void AddBool(const std::string& name, bool* dest, const std::string& help);
  // Flags added after this call are listed under "`title`:" in the usage (default "flags").
  void BeginSection(const std::string& title) { section_ = title; }

  // Parses `args` (without the command words). With `stop_at_positional` the first argument that
  // is not a flag and everything after it are left in positional() unparsed (global flags before
  // a command); otherwise positional arguments are collected and flags may follow them.
  // INVALID_ARGUMENT for an unknown flag, a missing value or a value that does not parse.
  absl::Status Parse(const std::vector<std::string>& args, bool stop_at_positional = false);

  bool help_requested() const { return help_requested_; }
  const std::vector<std::string>& positional() const { return positional_; }
  // Whether the flag appeared on the command line.
  bool IsSet(const std::string& name) const { return set_.count(name) > 0; }

  // INVALID_ARGUMENT "missing --NAME" unless every one of `names` was given.
  absl::Status Require(const std::vector<std::string>& names) const;
  // INVALID_ARGUMENT unless exactly one of `names` was given.
  absl::Status RequireExactlyOne(const std::vector<std::string>& names) const;
  // INVALID_ARGUMENT when positional arguments were given.
  absl::Status NoPositional() const;

  // The full usage text: the usage line, the description and one line per flag.
  std::string Usage() const;

 private:
  struct Flag {
    std::string value_name;  // empty for a boolean flag
    std::string help;
    std::string section;
    std::function<absl::Status(absl::string_view)> set;
  };
  void Add(const std::string& name, std::string value_name, std::string help,
           std::function<absl::Status(absl::string_view)> set);
  absl::Status SetFlag(const std::string& name, const Flag& flag, absl::string_view value);

  std::string command_;
  std::string synopsis_;
  std::string description_;
  std::string section_ = "flags";
  std::vector<std::string> order_;  // flag names in definition order, for the usage
  std::map<std::string, Flag> flags_;
  std::set<std::string> set_;
  std::vector<std::string> positional_;
  bool help_requested_ = false;
};

}  // namespace prunegate::client

#endif  // PRUNEGATE_CLIENT_FLAGS_H_
