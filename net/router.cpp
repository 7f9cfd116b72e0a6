#include "net/router.h"

#include <unistd.h>

#include <algorithm>

#include "common/encoding.h"

namespace docket::net {

FileHandle::~FileHandle() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<std::string> Request::query_param(std::string_view name) const {
  for (const auto& [k, v] : query)
    if (k == name) return v;
  return std::nullopt;
}

std::vector<std::string> Request::query_params(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : query)
    if (k == name) out.push_back(v);
  return out;
}

std::string Request::header(std::string_view name) const {
  auto it = headers.find(boost::beast::string_view(name.data(), name.size()));
  if (it == headers.end()) return {};
  return std::string(it->value());
}

bool Request::has_tag(std::string_view tag) const {
  return route_tags && route_tags->count(std::string(tag)) > 0;
}

void Response::set(unsigned status_code, std::string content_type, std::string content) {
  status = status_code;
  headers.set(http::field::content_type, content_type);
  body = std::move(content);
  file.reset();
}

void Response::set_json(unsigned status_code, const Json& j) {
  set(status_code, "application/json", j.dump());
}

static std::string decode_component(std::string_view s) {
  std::string plus;
  plus.reserve(s.size());
  for (char c : s) plus += c == '+' ? ' ' : c;
  auto d = percent_decode(plus);
  return d ? *d : plus;
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view q) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    if (eq == std::string_view::npos)
      out.emplace_back(decode_component(part), "");
    else
      out.emplace_back(decode_component(part.substr(0, eq)), decode_component(part.substr(eq + 1)));
  }
  return out;
}

Router::Router() {
  not_found_ = [](Request&, Response& res) { res.set(404, "text/plain", "404 page not found\n"); };
  method_not_allowed_ = [](Request&, Response& res) {
    res.set(405, "text/plain", "method not allowed\n");
  };
}
Router::~Router() = default;

static std::vector<std::string_view> split_path(std::string_view p) {
  std::vector<std::string_view> out;
  if (!p.empty() && p.front() == '/') p.remove_prefix(1);
  while (true) {
    auto s = p.find('/');
    out.push_back(p.substr(0, s));
    if (s == std::string_view::npos) break;
    p = p.substr(s + 1);
  }
  return out;
}

void Router::add_route(std::unique_ptr<Route> r) {
  if (r->pattern.empty() || r->pattern.front() != '/')
    raise(Fault::bug, "usage", "route pattern must start with '/': " + r->pattern);
  for (auto seg : split_path(r->pattern)) {
    Route::Segment s;
    if (seg.size() >= 2 && seg.front() == '{' && seg.back() == '}') {
      std::string_view inner = seg.substr(1, seg.size() - 2);
      if (inner.size() > 3 && inner.ends_with("...")) {
        s.kind = Route::Segment::many;
        s.text = std::string(inner.substr(0, inner.size() - 3));
      } else {
        s.kind = Route::Segment::one;
        s.text = std::string(inner);
      }
      if (s.text.empty()) raise(Fault::bug, "usage", "empty parameter in route " + r->pattern);
    } else {
      if (seg.find_first_of("{}") != std::string_view::npos)
        raise(Fault::bug, "usage", "malformed segment in route " + r->pattern);
      s.kind = Route::Segment::literal;
      s.text = std::string(seg);
      ++r->literals;
    }
    r->segments.push_back(std::move(s));
  }
  r->order = routes_.size();
  routes_.push_back(std::move(r));
  std::stable_sort(routes_.begin(), routes_.end(), [](const auto& a, const auto& b) {
    if (a->literals != b->literals) return a->literals > b->literals;
    return a->order < b->order;
  });
}

void Router::add(http::verb method, std::string_view pattern, std::string name, Handler h,
                 RouteOptions opts) {
  auto r = std::make_unique<Route>();
  r->method = method;
  r->pattern = std::string(pattern);
  r->name = std::move(name);
  r->handler = std::move(h);
  r->options = std::move(opts);
  add_route(std::move(r));
}

void Router::add_stream(http::verb method, std::string_view pattern, std::string name,
                        StreamHandler h, RouteOptions opts) {
  auto r = std::make_unique<Route>();
  r->method = method;
  r->pattern = std::string(pattern);
  r->name = std::move(name);
  r->stream_handler = std::move(h);
  r->options = std::move(opts);
  add_route(std::move(r));
}

void Router::use(Middleware m) {
  middleware_.push_back(std::move(m));
}
void Router::set_not_found(Handler h) {
  not_found_ = std::move(h);
}
void Router::set_method_not_allowed(Handler h) {
  method_not_allowed_ = std::move(h);
}

static bool match_segments(const std::vector<Route::Segment>& pat, std::size_t pi,
                           const std::vector<std::string_view>& segs, std::size_t si,
                           std::map<std::string, std::string>& params) {
  if (pi == pat.size()) return si == segs.size();
  if (si == segs.size()) return false;
  const auto& p = pat[pi];
  switch (p.kind) {
    case Route::Segment::literal:
      return p.text == segs[si] && match_segments(pat, pi + 1, segs, si + 1, params);
    case Route::Segment::one:
      if (segs[si].empty()) return false;
      if (!match_segments(pat, pi + 1, segs, si + 1, params)) return false;
      params[p.text] = std::string(segs[si]);
      return true;
    case Route::Segment::many: {
      // Shortest capture first; literals after it anchor the split.
      std::string joined;
      for (std::size_t end = si; end < segs.size(); ++end) {
        if (segs[end].empty()) return false;
        if (end > si) joined += '/';
        joined += segs[end];
        if (match_segments(pat, pi + 1, segs, end + 1, params)) {
          params[p.text] = joined;
          return true;
        }
      }
      return false;
    }
  }
  return false;
}

Router::Match Router::match(http::verb method, std::string_view path) const {
  Match m;
  auto segs = split_path(path);
  const Route* get_fallback = nullptr;
  std::map<std::string, std::string> get_params;
  for (const auto& r : routes_) {
    std::map<std::string, std::string> params;
    if (!match_segments(r->segments, 0, segs, 0, params)) continue;
    if (r->method == method) {
      m.route = r.get();
      m.params = std::move(params);
      m.allowed.clear();
      return m;
    }
    if (method == http::verb::head && r->method == http::verb::get && !get_fallback) {
      get_fallback = r.get();
      get_params = std::move(params);
    }
    if (std::find(m.allowed.begin(), m.allowed.end(), r->method) == m.allowed.end())
      m.allowed.push_back(r->method);
  }
  if (get_fallback) {
    m.route = get_fallback;
    m.params = std::move(get_params);
    m.allowed.clear();
  }
  return m;
}

}  // namespace docket::net
