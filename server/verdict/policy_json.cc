// Policy <-> JSON. One table (Schema) lists every key with its kind and range; parsing,
// validation and serialisation all walk it, so a new key is added in one place.
#include <cmath>
#include <type_traits>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/common/status_macros.h"
#include "server/verdict/policy.h"

namespace prunegate::verdict {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

// What a key holds: a rule's thresholds, a fraction in [0, 1] (tolerance), a count, a seed, a
// switch.
using Target = std::variant<Thresholds*, double*, int64_t*, uint64_t*, bool*>;

struct Field {
  std::string key;
  Target target;
  int64_t min = 0;  // counts: the smallest allowed value
};

struct Section {
  std::string key;
  std::vector<Field> fields;
};

std::vector<Section> Schema(Policy& p) {
  GenerationPolicy& g = p.generation;
  MultipleChoicePolicy& m = p.multiple_choice;
  RetrievalPolicy& r = p.retrieval;
  return {
      {"generation",
       {{"divergence_rate", &g.divergence_rate},
        {"early_divergence", &g.early_divergence},
        {"mean_kl", &g.mean_kl},
        {"kl_pred", &g.kl_pred},
        {"tolerance", &g.tolerance},
        {"max_steps", &g.max_steps, 1},
        {"max_prompts", &g.max_prompts, 0},
        {"seed", &g.seed},
        {"stop_at_newline", &g.stop_at_newline}}},
      {"multiple_choice",
       {{"accuracy_drop", &m.accuracy_drop},
        {"argmax_disagreement", &m.argmax_disagreement},
        {"mean_kl", &m.mean_kl},
        {"tolerance", &m.tolerance}}},
      {"retrieval",
       {{"recall_drop", &r.recall_drop},
        {"cosine_loss", &r.cosine_loss},
        {"topk_loss", &r.topk_loss},
        {"tolerance", &r.tolerance},
        {"top_k", &r.top_k, 1}}},
  };
}

absl::Status PathError(const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("policy ", path, ": ", what));
}

// A finite v >= 0, and <= 1 for a fraction.
absl::Status CheckNumber(const std::string& path, double v, bool fraction) {
  if (!std::isfinite(v) || v < 0 || (fraction && v > 1)) {
    return PathError(path, absl::StrCat(v, fraction ? " is outside [0, 1]"
                                                    : " is not a finite number >= 0"));
  }
  return absl::OkStatus();
}

// Range checks of one field as it is now.
absl::Status CheckField(const std::string& path, const Field& f) {
  if (auto* t = std::get_if<Thresholds*>(&f.target)) {
    PG_RETURN_IF_ERROR(CheckNumber(path + ".risky", (*t)->risky, /*fraction=*/false));
    PG_RETURN_IF_ERROR(CheckNumber(path + ".unsafe", (*t)->unsafe, /*fraction=*/false));
    if ((*t)->unsafe < (*t)->risky) {
      return PathError(path + ".unsafe",
                       absl::StrCat((*t)->unsafe, " is below ", path, ".risky ", (*t)->risky,
                                    " (risky <= unsafe is required)"));
    }
  } else if (auto* d = std::get_if<double*>(&f.target)) {
    return CheckNumber(path, **d, /*fraction=*/true);
  } else if (auto* n = std::get_if<int64_t*>(&f.target)) {
    if (**n < f.min) return PathError(path, absl::StrCat(**n, " is below the minimum ", f.min));
  }
  return absl::OkStatus();
}

absl::StatusOr<double> ReadNumber(const std::string& path, const Json& v) {
  if (!v.is_number()) return PathError(path, absl::StrCat("expected a number, got ", v.type_name()));
  return v.get<double>();
}

absl::Status ReadThresholds(const std::string& path, const Json& v, Thresholds* t) {
  if (!v.is_object()) {
    return PathError(path, absl::StrCat("expected an object {\"risky\": x, \"unsafe\": y}, got ",
                                        v.type_name()));
  }
  for (const auto& [key, value] : v.items()) {
    const std::string sub = absl::StrCat(path, ".", key);
    if (key == "risky") {
      PG_ASSIGN_OR_RETURN(t->risky, ReadNumber(sub, value));
    } else if (key == "unsafe") {
      PG_ASSIGN_OR_RETURN(t->unsafe, ReadNumber(sub, value));
    } else {
      return PathError(sub, "unknown key (valid: risky, unsafe)");
    }
  }
  return absl::OkStatus();
}

absl::Status ReadField(const std::string& path, const Json& v, const Field& f) {
  if (auto* t = std::get_if<Thresholds*>(&f.target)) return ReadThresholds(path, v, *t);
  if (auto* d = std::get_if<double*>(&f.target)) {
    PG_ASSIGN_OR_RETURN(**d, ReadNumber(path, v));
  } else if (auto* n = std::get_if<int64_t*>(&f.target)) {
    if (!v.is_number_integer()) {
      return PathError(path, absl::StrCat("expected an integer, got ", v.type_name()));
    }
    **n = v.get<int64_t>();
  } else if (auto* seed = std::get_if<uint64_t*>(&f.target)) {
    if (!v.is_number_unsigned()) {
      return PathError(path, v.is_number_integer()
                                 ? std::string("must be a non-negative integer")
                                 : absl::StrCat("expected an integer, got ", v.type_name()));
    }
    **seed = v.get<uint64_t>();
  } else if (auto* flag = std::get_if<bool*>(&f.target)) {
    if (!v.is_boolean()) {
      return PathError(path, absl::StrCat("expected true or false, got ", v.type_name()));
    }
    **flag = v.get<bool>();
  }
  return absl::OkStatus();
}

std::string KeyList(const std::vector<std::string>& keys) {
  std::string out;
  for (const std::string& k : keys) absl::StrAppend(&out, out.empty() ? "" : ", ", k);
  return out;
}

absl::Status ReadSection(const Section& section, const Json& v) {
  if (!v.is_object()) {
    return PathError(section.key, absl::StrCat("expected an object, got ", v.type_name()));
  }
  for (const auto& [key, value] : v.items()) {
    const std::string path = absl::StrCat(section.key, ".", key);
    const Field* field = nullptr;
    std::vector<std::string> valid;
    for (const Field& f : section.fields) {
      valid.push_back(f.key);
      if (f.key == key) field = &f;
    }
    if (field == nullptr) return PathError(path, absl::StrCat("unknown key (valid: ", KeyList(valid), ")"));
    PG_RETURN_IF_ERROR(ReadField(path, value, *field));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidatePolicy(const Policy& policy) {
  Policy copy = policy;
  for (const Section& section : Schema(copy)) {
    for (const Field& f : section.fields) {
      PG_RETURN_IF_ERROR(CheckField(absl::StrCat(section.key, ".", f.key), f));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Policy> ParsePolicyJson(const std::string& json) {
  Policy policy = DefaultPolicy();
  if (json.find_first_not_of(" \t\r\n") == std::string::npos) return policy;
  const Json doc = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError("policy: not valid JSON");
  if (!doc.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy: expected a JSON object, got ", doc.type_name()));
  }
  const std::vector<Section> schema = Schema(policy);
  for (const auto& [key, value] : doc.items()) {
    const Section* section = nullptr;
    std::vector<std::string> valid;
    for (const Section& s : schema) {
      valid.push_back(s.key);
      if (s.key == key) section = &s;
    }
    if (section == nullptr) {
      return PathError(key, absl::StrCat("unknown key (valid: ", KeyList(valid), ")"));
    }
    PG_RETURN_IF_ERROR(ReadSection(*section, value));
  }
  PG_RETURN_IF_ERROR(ValidatePolicy(policy));
  return policy;
}

std::string PolicyToJson(const Policy& policy) {
  Policy copy = policy;
  OrderedJson doc = OrderedJson::object();
  for (const Section& section : Schema(copy)) {
    OrderedJson& out = doc[section.key];
    out = OrderedJson::object();
    for (const Field& f : section.fields) {
      std::visit(
          [&](auto* value) {
            using T = std::remove_pointer_t<decltype(value)>;
            if constexpr (std::is_same_v<T, Thresholds>) {
              out[f.key] = {{"risky", value->risky}, {"unsafe", value->unsafe}};
            } else {
              out[f.key] = *value;
            }
          },
          f.target);
    }
  }
  return doc.dump(2);
}

}  // namespace prunegate::verdict
