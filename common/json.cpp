#include "common/json.h"

#include <vector>

namespace docket {
namespace {

void append_canonical_string(std::string& out, const std::string& s) {
  out += '"';
  // Runs without '"' or '\\' are appended whole (a character at a time was most of the
  // cost of canonicalising a large targets file).
  const char* p = s.data();
  const char* end = p + s.size();
  const char* run = p;
  for (; p != end; ++p) {
    if (*p != '"' && *p != '\\') continue;
    out.append(run, p);
    out += '\\';
    run = p;  // the quote or backslash itself starts the next run
  }
  out.append(run, end);
  out += '"';
}

Status append_canonical(std::string& out, const Json& j, Fault fault, std::size_t depth) {
  if (depth > 512)
    return make_error(fault, "non_canonical_json", "JSON nested too deeply to canonicalise");
  switch (j.type()) {
    case Json::value_t::null:
      out += "null";
      return {};
    case Json::value_t::boolean:
      out += j.get<bool>() ? "true" : "false";
      return {};
    case Json::value_t::number_integer:
      out += std::to_string(j.get<std::int64_t>());
      return {};
    case Json::value_t::number_unsigned:
      out += std::to_string(j.get<std::uint64_t>());
      return {};
    case Json::value_t::number_float:
      return make_error(
          fault, "non_canonical_json",
          "JSON number " + j.dump() + " is not an integer; canonical JSON has integers only");
    case Json::value_t::string:
      append_canonical_string(out, j.get_ref<const std::string&>());
      return {};
    case Json::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& v : j) {
        if (!first) out += ',';
        first = false;
        if (auto s = append_canonical(out, v, fault, depth + 1); !s) return s;
      }
      out += ']';
      return {};
    }
    case Json::value_t::object: {
      // nlohmann's object is a std::map<std::string, ...>: iteration is already bytewise
      // sorted (std::less<std::string> compares as unsigned char via char_traits).
      out += '{';
      bool first = true;
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (!first) out += ',';
        first = false;
        append_canonical_string(out, it.key());
        out += ':';
        if (auto s = append_canonical(out, it.value(), fault, depth + 1); !s) return s;
      }
      out += '}';
      return {};
    }
    case Json::value_t::binary:
    case Json::value_t::discarded:
      break;
  }
  return make_error(fault, "non_canonical_json", "JSON value has no canonical form");
}

}  // namespace

namespace {

// Builds the DOM through nlohmann's SAX interface. Unlike the callback parser (which
// re-examines the parent container after every child and so is quadratic in the number
// of members), this is linear; it also rejects duplicate keys and excess depth as it goes.
class StrictDomBuilder final : public nlohmann::json_sax<Json> {
 public:
  explicit StrictDomBuilder(std::size_t max_depth) : max_depth_(max_depth) {}

  bool null() override { return put(Json(nullptr)); }
  bool boolean(bool v) override { return put(Json(v)); }
  bool number_integer(number_integer_t v) override { return put(Json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return put(Json(v)); }
  bool number_float(number_float_t v, const string_t&) override { return put(Json(v)); }
  bool string(string_t& v) override { return put(Json(std::move(v))); }
  bool binary(binary_t&) override { return false; }

  bool start_object(std::size_t) override { return open(Json::object()); }
  bool key(string_t& k) override {
    auto& obj = stack_.back()->get_ref<Json::object_t&>();
    auto [it, inserted] = obj.emplace(std::move(k), nullptr);  // one lookup
    if (!inserted) {
      duplicate_ = it->first;
      return false;
    }
    pending_key_ = &it->second;
    return true;
  }
  bool end_object() override {
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override { return open(Json::array()); }
  bool end_array() override {
    stack_.pop_back();
    return true;
  }

  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    message_ = ex.what();
    return false;
  }

  Json root;
  std::string duplicate_;
  std::string message_;
  bool too_deep_ = false;

 private:
  // Places a value where the parser is: the root, the pending object member, or the end of
  // the current array. Returns a pointer to the stored value.
  Json* place(Json&& v) {
    if (stack_.empty()) {
      root = std::move(v);
      return &root;
    }
    Json& top = *stack_.back();
    if (top.is_array()) {
      top.push_back(std::move(v));
      return &top.back();
    }
    *pending_key_ = std::move(v);
    return pending_key_;
  }
  bool put(Json&& v) {
    place(std::move(v));
    return true;
  }
  bool open(Json&& container) {
    if (stack_.size() >= max_depth_) {
      too_deep_ = true;
      return false;
    }
    stack_.push_back(place(std::move(container)));
    return true;
  }

  std::size_t max_depth_;
  std::vector<Json*> stack_;
  Json* pending_key_ = nullptr;
};

}  // namespace

Result<Json> parse_json(std::string_view text, std::string_view what, Fault fault,
                        const JsonLimits& limits) {
  if (text.size() > limits.max_bytes)
    return make_error(fault, "too_large",
                      std::string(what) + " is " + std::to_string(text.size()) +
                          " bytes, over the limit of " + std::to_string(limits.max_bytes));
  StrictDomBuilder builder(limits.max_depth);
  bool ok = Json::sax_parse(text.begin(), text.end(), &builder, Json::input_format_t::json,
                            /*strict=*/true, /*ignore_comments=*/false);
  if (builder.too_deep_)
    return make_error(
        fault, "too_deep",
        std::string(what) + " nests deeper than " + std::to_string(limits.max_depth) + " levels");
  if (!builder.duplicate_.empty())
    return make_error(
        fault, "malformed_json",
        std::string(what) + " has the object key \"" + builder.duplicate_ + "\" twice");
  if (!ok) {
    std::string msg = builder.message_.empty() ? "parse error" : builder.message_;
    // "[json.exception.parse_error.101] parse error at line 1, column 2: ..." -> drop the tag.
    if (auto p = msg.find("] "); p != std::string::npos) msg = msg.substr(p + 2);
    return make_error(fault, "malformed_json", std::string(what) + " is not valid JSON: " + msg);
  }
  return std::move(builder.root);
}

Result<std::string> canonical_json(const Json& j, Fault fault) {
  std::string out;
  if (auto s = append_canonical(out, j, fault, 0); !s) return std::unexpected(s.error());
  return out;
}

Result<std::string> canonicalize(std::string_view text, std::string_view what, Fault fault,
                                 const JsonLimits& limits) {
  auto j = parse_json(text, what, fault, limits);
  if (!j) return std::unexpected(j.error());
  auto c = canonical_json(*j, fault);
  if (!c) return std::unexpected(with_context(c.error(), what));
  return c;
}

namespace {
Result<const Json*> field(const Json& obj, std::string_view key, std::string_view what,
                          Fault fault) {
  if (!obj.is_object())
    return make_error(fault, "malformed_metadata", std::string(what) + " is not a JSON object");
  auto it = obj.find(std::string(key));
  if (it == obj.end())
    return make_error(fault, "malformed_metadata",
                      std::string(what) + " has no \"" + std::string(key) + "\" field");
  return &*it;
}
Error mistyped(std::string_view key, std::string_view what, Fault fault, std::string_view want) {
  return Error{fault, "malformed_metadata",
               std::string(what) + ": \"" + std::string(key) + "\" must be " + std::string(want)};
}
}  // namespace

Result<std::string> json_string(const Json& obj, std::string_view key, std::string_view what,
                                Fault fault) {
  auto f = field(obj, key, what, fault);
  if (!f) return std::unexpected(f.error());
  if (!(*f)->is_string()) return std::unexpected(mistyped(key, what, fault, "a string"));
  return (*f)->get<std::string>();
}

Result<std::int64_t> json_int(const Json& obj, std::string_view key, std::string_view what,
                              Fault fault) {
  auto f = field(obj, key, what, fault);
  if (!f) return std::unexpected(f.error());
  if ((*f)->is_number_integer() &&
      !((*f)->is_number_unsigned() && (*f)->get<std::uint64_t>() > INT64_MAX))
    return (*f)->get<std::int64_t>();
  return std::unexpected(mistyped(key, what, fault, "an integer"));
}

Result<const Json*> json_object(const Json& obj, std::string_view key, std::string_view what,
                                Fault fault) {
  auto f = field(obj, key, what, fault);
  if (!f) return f;
  if (!(*f)->is_object()) return std::unexpected(mistyped(key, what, fault, "an object"));
  return f;
}

Result<const Json*> json_array(const Json& obj, std::string_view key, std::string_view what,
                               Fault fault) {
  auto f = field(obj, key, what, fault);
  if (!f) return f;
  if (!(*f)->is_array()) return std::unexpected(mistyped(key, what, fault, "an array"));
  return f;
}

}  // namespace docket
