// htpasswd/bcrypt, Basic credentials, scopes, WWW-Authenticate and form data.
#include "net/auth.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "common/encoding.h"
#include "common/file.h"
#include "net/htpasswd.h"
#include "net/testing/process.h"

namespace docket::net {
namespace {

// ---- bcrypt / htpasswd ----

TEST(Bcrypt, HashAndVerify) {
  auto h = bcrypt_hash("correct horse", kMinBcryptCost);
  ASSERT_TRUE(h) << h.error().describe();
  EXPECT_TRUE(h->starts_with("$2y$04$"));
  EXPECT_TRUE(is_bcrypt_hash(*h));
  EXPECT_TRUE(bcrypt_verify("correct horse", *h));
  EXPECT_FALSE(bcrypt_verify("correct horsE", *h));
  EXPECT_FALSE(bcrypt_verify("", *h));
  // Salted: two hashes of one password differ.
  auto h2 = bcrypt_hash("correct horse", kMinBcryptCost);
  ASSERT_TRUE(h2);
  EXPECT_NE(*h, *h2);
}

TEST(Bcrypt, RejectsBadInputs) {
  EXPECT_FALSE(bcrypt_hash(std::string(73, 'a'), kMinBcryptCost));
  EXPECT_FALSE(bcrypt_hash(std::string("a\0b", 3), kMinBcryptCost));
  EXPECT_FALSE(bcrypt_hash("x", 3));
  EXPECT_FALSE(bcrypt_hash("x", 32));
  EXPECT_FALSE(bcrypt_verify("x", "$1$abc$def"));
  EXPECT_FALSE(bcrypt_verify("x", ""));
  EXPECT_FALSE(is_bcrypt_hash("$2y$03$" + std::string(53, 'a')));
  EXPECT_FALSE(is_bcrypt_hash("$2x$10$" + std::string(53, 'a')));
  EXPECT_FALSE(is_bcrypt_hash("$2y$10$" + std::string(52, 'a') + "!"));
}

TEST(Bcrypt, AcceptsAllThreeVariants) {
  // The same salt and password under $2a$/$2b$/$2y$ give the same digest for ASCII input.
  auto y = bcrypt_hash("pw", kMinBcryptCost);
  ASSERT_TRUE(y);
  for (std::string v : {"$2a$", "$2b$"}) {
    std::string h = v + y->substr(4);
    EXPECT_TRUE(bcrypt_verify("pw", h)) << h;
  }
}

TEST(Htpasswd, ParsesCommentsCrlfAndVerifies) {
  auto a = bcrypt_hash("alice-pw", kMinBcryptCost).value();
  auto b = bcrypt_hash("bob:pw", kMinBcryptCost).value();
  std::string text = "# users\r\nalice:" + a + "\r\n\n   \nbob:" + b + "\n";
  auto h = Htpasswd::parse(text, "test.htpasswd");
  ASSERT_TRUE(h) << h.error().describe();
  EXPECT_EQ(h->size(), 2u);
  EXPECT_EQ(h->users(), (std::vector<std::string>{"alice", "bob"}));
  EXPECT_TRUE(h->verify("alice", "alice-pw"));
  EXPECT_TRUE(h->verify("bob", "bob:pw"));  // ':' in passwords is fine
  EXPECT_FALSE(h->verify("alice", "bob:pw"));
  EXPECT_FALSE(h->verify("carol", "alice-pw"));
  EXPECT_FALSE(h->verify("", ""));
}

TEST(Htpasswd, RejectsWeakOrBrokenFilesNamingTheLine) {
  struct Case {
    std::string text;
    std::string expect;
  } cases[] = {
      {"alice:$apr1$abc$defghijklmnopqrstuvwx\n", "line 1: user \"alice\" does not have a bcrypt"},
      {"alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n", "bcrypt"},
      {"alice:plaintext\n", "bcrypt"},
      {"# c\nnocolon\n", "line 2: expected user:hash"},
      {":$2y$05$" + std::string(53, 'a') + "\n", "invalid user name"},
  };
  for (const auto& c : cases) {
    auto h = Htpasswd::parse(c.text, "f");
    ASSERT_FALSE(h) << c.text;
    EXPECT_EQ(h.error().code, "config");
    EXPECT_EQ(h.error().fault, Fault::user);
    EXPECT_NE(h.error().message.find(c.expect), std::string::npos) << h.error().message;
    EXPECT_EQ(h.error().message.find("plaintext"), std::string::npos) << "no secrets in errors";
  }
  auto hash = bcrypt_hash("x", kMinBcryptCost).value();
  auto dup = Htpasswd::parse("a:" + hash + "\na:" + hash + "\n");
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().message.find("twice"), std::string::npos);
}

TEST(Htpasswd, SetRemoveSerializeRoundTrip) {
  Htpasswd h;
  ASSERT_TRUE(h.set_password("alice", "one", kMinBcryptCost));
  ASSERT_TRUE(h.set_password("bob", "two", kMinBcryptCost));
  ASSERT_TRUE(h.set_password("alice", "three", kMinBcryptCost));
  EXPECT_FALSE(h.set_password("bad:name", "x", kMinBcryptCost));
  EXPECT_FALSE(h.verify("alice", "one"));
  EXPECT_TRUE(h.verify("alice", "three"));
  EXPECT_TRUE(h.remove("bob"));
  EXPECT_FALSE(h.remove("bob"));
  auto again = Htpasswd::parse(h.serialize());
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_TRUE(again->verify("alice", "three"));
  EXPECT_FALSE(again->has_user("bob"));
}

// The htpasswd tool from apache2-utils is the reference producer of these files.
TEST(Htpasswd, ReadsFilesMadeByApacheHtpasswd) {
  auto tool = testing::find_executable("htpasswd");
  if (!tool) GTEST_SKIP() << "htpasswd (apache2-utils) is not installed";
  auto dir = testing::TempDir::create("docket-htpasswd");
  auto file = dir.path() / "users";
  std::string cmd = tool->string() + " -B -b -c " + file.string() +
                    " alice 's3cret pw' 2>/dev/null && " + tool->string() + " -B -C 6 -b " +
                    file.string() + " bob hunter2 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto h = Htpasswd::load(file);
  ASSERT_TRUE(h) << h.error().describe();
  EXPECT_TRUE(h->verify("alice", "s3cret pw"));
  EXPECT_TRUE(h->verify("bob", "hunter2"));
  EXPECT_FALSE(h->verify("bob", "hunter3"));
  // And htpasswd accepts our hashes: -v verifies a password against the file.
  Htpasswd ours;
  ASSERT_TRUE(ours.set_password("carol", "from docket", kMinBcryptCost));
  ASSERT_TRUE(atomic_write_file(dir.path() / "ours", ours.serialize()));
  std::string verify = tool->string() + " -v -b " + (dir.path() / "ours").string() +
                       " carol 'from docket' >/dev/null 2>&1";
  EXPECT_EQ(std::system(verify.c_str()), 0);
  std::string wrong = tool->string() + " -v -b " + (dir.path() / "ours").string() +
                      " carol 'wrong' >/dev/null 2>&1";
  EXPECT_NE(std::system(wrong.c_str()), 0);
}

// ---- Basic ----

TEST(BasicAuth, RoundTripAndMalformed) {
  auto h = basic_authorization("alice", "p:w d");
  EXPECT_EQ(h, "Basic " + base64_encode("alice:p:w d"));
  auto c = parse_basic_authorization(h);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->user, "alice");
  EXPECT_EQ(c->password, "p:w d");
  auto lower = parse_basic_authorization("basic " + base64_encode("u:"));
  ASSERT_TRUE(lower);
  EXPECT_EQ(lower->password, "");
  for (std::string bad : std::vector<std::string>{
           "Bearer abc", "Basic", "Basic !!!", "Basic " + base64_encode("nocolon"),
           "Basic " + base64_encode(":pw"), "Basic " + base64_encode("u\n:pw")}) {
    auto r = parse_basic_authorization(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code, "unauthorized");
    }
  }
  EXPECT_EQ(parse_bearer_authorization("Bearer abc.def-_.ghi"), "abc.def-_.ghi");
  EXPECT_FALSE(parse_bearer_authorization("Bearer a b"));
  EXPECT_FALSE(parse_bearer_authorization("Basic abc"));
}

// ---- scopes ----

TEST(Scope, ParsesTheGrammar) {
  struct Case {
    std::string in;
    std::string type, cls, name;
    std::vector<std::string> actions;
  } cases[] = {
      {"repository:library/alpine:pull", "repository", "", "library/alpine", {"pull"}},
      {"repository:foo/bar:push,pull", "repository", "", "foo/bar", {"pull", "push"}},
      {"repository:docker.io/library/alpine:*",
       "repository",
       "",
       "docker.io/library/alpine",
       {"*"}},
      {"repository:localhost:5000/foo:push,pull",
       "repository",
       "",
       "localhost:5000/foo",
       {"pull", "push"}},
      {"repository(plugin):vendor/x:pull", "repository", "plugin", "vendor/x", {"pull"}},
      {"registry:catalog:*", "registry", "", "catalog", {"*"}},
      {"repository:a:pull,pull,delete", "repository", "", "a", {"delete", "pull"}},
  };
  for (const auto& c : cases) {
    auto s = parse_scope(c.in);
    ASSERT_TRUE(s) << c.in << ": " << s.error().describe();
    EXPECT_EQ(s->type, c.type);
    EXPECT_EQ(s->resource_class, c.cls);
    EXPECT_EQ(s->name, c.name);
    EXPECT_EQ(s->actions, c.actions);
    auto again = parse_scope(s->to_string());
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, *s);
  }
}

TEST(Scope, RejectsMalformed) {
  for (std::string bad : std::vector<std::string>{
           "", "repository", "repository:foo", "repository::pull",
           "repository:foo:", "repository:foo:pull,", "Repository:foo:pull", "repository:fo o:pull",
           "repository:foo:PULL", "repository(:foo:pull", "repository():foo:pull",
           "repository:a\"b:pull", ":foo:pull", "repository:" + std::string(2000, 'a') + ":pull"}) {
    auto s = parse_scope(bad);
    EXPECT_FALSE(s) << bad;
    if (!s) {
      EXPECT_EQ(s.error().code, "bad_scope");
      EXPECT_EQ(s.error().fault, Fault::remote);
    }
  }
}

TEST(Scope, ParsesSeveralAndMerges) {
  auto s = parse_scopes({"repository:a:pull repository:b:push", "repository:a:push"});
  ASSERT_TRUE(s) << s.error().describe();
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[0].to_string(), "repository:a:pull,push");
  EXPECT_EQ((*s)[1].to_string(), "repository:b:push");
  EXPECT_EQ(scopes_to_string(*s), "repository:a:pull,push repository:b:push");
  EXPECT_TRUE((*s)[0].allows("push"));
  EXPECT_FALSE((*s)[0].allows("delete"));
  auto star = parse_scope("repository:a:*").value();
  EXPECT_TRUE(star.allows("delete"));
  std::vector<std::string> many(kMaxScopesPerRequest + 1, "repository:x:pull");
  for (std::size_t i = 0; i < many.size(); ++i)
    many[i] = "repository:x" + std::to_string(i) + ":pull";
  EXPECT_FALSE(parse_scopes(many));
}

// ---- challenges ----

TEST(Challenge, BuildsAndParsesBearer) {
  BearerChallenge c{"https://auth.example/token?x=1",
                    "registry.example",
                    {parse_scope("repository:foo/bar:pull,push").value(),
                     parse_scope("registry:catalog:*").value()},
                    "insufficient_scope",
                    ""};
  auto h = bearer_challenge(c);
  EXPECT_EQ(
      h,
      "Bearer realm=\"https://auth.example/token?x=1\",service=\"registry.example\","
      "scope=\"repository:foo/bar:pull,push registry:catalog:*\",error=\"insufficient_scope\"");
  auto parsed = parse_www_authenticate(h);
  ASSERT_TRUE(parsed) << parsed.error().describe();
  ASSERT_EQ(parsed->size(), 1u);
  const auto& p = (*parsed)[0];
  EXPECT_TRUE(p.is("bearer"));
  EXPECT_EQ(p.param("Realm"), "https://auth.example/token?x=1");
  EXPECT_EQ(p.param("service"), "registry.example");
  EXPECT_EQ(p.param("scope"), "repository:foo/bar:pull,push registry:catalog:*");
  EXPECT_EQ(p.param("error"), "insufficient_scope");
  EXPECT_EQ(basic_challenge("my \"realm\""), "Basic realm=\"my \\\"realm\\\"\"");
}

TEST(Challenge, ParsesSeveralChallengesAndToken68) {
  auto r = parse_www_authenticate(
      "Newauth realm=\"apps\", type=1,  title=\"Login to \\\"apps\\\"\", Basic realm=\"simple\", "
      "Negotiate abc==, Bearer realm=x");
  ASSERT_TRUE(r) << r.error().describe();
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0].scheme, "Newauth");
  EXPECT_EQ((*r)[0].param("type"), "1");
  EXPECT_EQ((*r)[0].param("title"), "Login to \"apps\"");
  EXPECT_EQ((*r)[1].param("realm"), "simple");
  EXPECT_EQ((*r)[2].token68, "abc==");
  EXPECT_EQ((*r)[3].param("realm"), "x");
  auto bare = parse_www_authenticate("Basic");
  ASSERT_TRUE(bare);
  EXPECT_TRUE((*bare)[0].params.empty());
}

TEST(Challenge, RejectsMalformed) {
  for (std::string bad : std::vector<std::string>{
           "", "   ", "Bearer realm=\"unterminated", "Bearer realm=,service=x", "Bearer =x",
           "Bearer realm=\"a\" service=\"b\"", "Bearer realm=\"a\\",
           std::string(kMaxChallengeHeaderBytes + 1, 'a')}) {
    auto r = parse_www_authenticate(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code, "bad_header");
    }
  }
}

// ---- forms ----

TEST(Form, ParsesAndEncodes) {
  auto f = parse_form_urlencoded(
      "grant_type=password&scope=repository%3Afoo%3Apull+repository"
      "%3Abar%3Apush&password=a%26b%3Dc&empty=&flag");
  ASSERT_TRUE(f) << f.error().describe();
  EXPECT_EQ(form_value(*f, "grant_type"), "password");
  EXPECT_EQ(form_value(*f, "scope"), "repository:foo:pull repository:bar:push");
  EXPECT_EQ(form_value(*f, "password"), "a&b=c");
  EXPECT_EQ(form_value(*f, "empty"), "");
  EXPECT_EQ(form_value(*f, "flag"), "");
  EXPECT_FALSE(form_value(*f, "missing"));
  FormFields out{{"a b", "c&d"}, {"scope", "x:y"}};
  auto enc = form_urlencode(out);
  EXPECT_EQ(enc, "a%20b=c%26d&scope=x%3Ay");
  EXPECT_EQ(parse_form_urlencoded(enc).value(), out);
  EXPECT_FALSE(parse_form_urlencoded("a=%zz"));
  EXPECT_FALSE(parse_form_urlencoded(std::string(kMaxFormBytes + 1, 'a')));
}

}  // namespace
}  // namespace docket::net
