// The chat-template engine against its oracle, Python Jinja2 set up as transformers sets it up
// (tests/template/oracle.py), on the real templates of llama-cpp-python's sdist
// (tests/template/fetch_templates.py) and the conversations of tests/template/conversations.json.
// Byte-identical output wherever the oracle renders; an error wherever the oracle raises.
// Templates listed in known_failures.txt may differ (each with its reason); one that no longer
// differs fails the test until it is taken off the list. Skips when PyPI cannot be reached.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "chat_template/chat_template.h"
#include "run_command.h"

namespace ct = ingot::chat_template;
using nlohmann::ordered_json;

namespace {

const std::string kSourceDir = std::string(INGOT_SOURCE_DIR) + "/tests/template";
const std::string kWorkDir = INGOT_TEMPLATE_WORK_DIR;
constexpr std::time_t kNow = 1721995200;  // 2024-07-26 12:00:00 UTC, for strftime_now on both sides

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// "name.jinja: reason" lines; '#' starts a comment.
std::map<std::string, std::string> known_failures() {
  std::map<std::string, std::string> known;
  std::istringstream in(read_file(kSourceDir + "/known_failures.txt"));
  for (std::string line; std::getline(in, line);) {
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    size_t colon = line.find(':');
    known[trim(line.substr(0, colon))] = colon == std::string::npos ? "" : trim(line.substr(colon + 1));
  }
  return known;
}

std::string first_difference(const std::string& want, const std::string& got) {
  size_t k = 0;
  while (k < want.size() && k < got.size() && want[k] == got[k]) ++k;
  auto around = [&](const std::string& s) { return ordered_json(s.substr(k < 40 ? 0 : k - 40, 80)).dump(); };
  return "differs at byte " + std::to_string(k) + " of " + std::to_string(want.size()) + ": want " + around(want) +
         ", got " + around(got);
}

}  // namespace

TEST(ChatTemplateConformance, RealTemplatesRenderAsJinja2Does) {
  setenv("TZ", "UTC", 1);
  tzset();
  auto fetch = ingot::test::run_command("python3 " + kSourceDir + "/fetch_templates.py");
  if (fetch.exit_code == 77) GTEST_SKIP() << "cannot set up the oracle (PyPI unreachable?):\n" << fetch.out;
  ASSERT_EQ(fetch.exit_code, 0) << fetch.out;
  std::string cache = trim(fetch.out);
  std::string expected_path = kWorkDir + "/expected.json";
  auto oracle = ingot::test::run_command(cache + "/venv/bin/python " + kSourceDir + "/oracle.py --templates " + cache +
                                         "/templates --conversations " + kSourceDir + "/conversations.json --out " +
                                         expected_path + " --now " + std::to_string(kNow) + " 2>&1");
  ASSERT_EQ(oracle.exit_code, 0) << oracle.out;
  std::cout << oracle.out;

  ordered_json conversations = ordered_json::parse(read_file(kSourceDir + "/conversations.json"));
  std::map<std::string, ordered_json> context_of;
  for (const auto& c : conversations) context_of[c["name"].get<std::string>()] = c["context"];
  ordered_json expected = ordered_json::parse(read_file(expected_path));
  ASSERT_FALSE(expected.empty());

  struct Tally {
    int identical = 0, both_raise = 0, failed = 0;
    std::string first_failure;
  };
  std::map<std::string, Tally> tally;
  std::map<std::string, std::unique_ptr<ct::Template>> parsed;
  std::map<std::string, std::string> parse_error;
  ct::RenderOptions options;
  options.now = kNow;
  for (const auto& e : expected) {
    std::string name = e["template"], conv = e["conversation"];
    Tally& t = tally[name];
    if (!parsed.count(name) && !parse_error.count(name)) {
      try {
        parsed[name] = std::make_unique<ct::Template>(ct::Template::parse(read_file(cache + "/templates/" + name)));
      } catch (const ct::TemplateError& err) {
        parse_error[name] = err.what();
      }
    }
    bool oracle_ok = e["ok"].get<bool>();
    std::string got, error;
    bool ours_ok = false;
    const ct::TemplateError* raised = nullptr;
    std::unique_ptr<ct::TemplateError> caught;
    if (parse_error.count(name)) {
      error = parse_error[name];
    } else {
      try {
        got = parsed[name]->render(context_of.at(conv), options);
        ours_ok = true;
      } catch (const ct::TemplateError& err) {
        error = err.what();
        caught = std::make_unique<ct::TemplateError>(err);
        raised = caught.get();
      }
    }
    std::string failure;
    // raise_exception(message) in the template: Jinja2 raises TemplateError(message); ours must
    // raise the same message as a TemplateError of kind `raised`.
    static const std::string kRaised = "TemplateError: ";
    if (!oracle_ok && raised && e["error"].get<std::string>().rfind(kRaised, 0) == 0) {
      std::string want = e["error"].get<std::string>().substr(kRaised.size());
      if (raised->kind() != ct::TemplateError::Kind::raised || raised->message() != want)
        failure = "Jinja2 raise_exception(" + ordered_json(want).dump() + "), ours: " + error;
    }
    if (!failure.empty()) {
    } else if (oracle_ok && !ours_ok) failure = "Jinja2 renders, ours raises: " + error;
    else if (oracle_ok && got != e["output"].get<std::string>()) failure = first_difference(e["output"], got);
    else if (!oracle_ok && ours_ok) failure = "Jinja2 raises (" + e["error"].get<std::string>() + "), ours renders";
    if (failure.empty()) {
      (oracle_ok ? t.identical : t.both_raise)++;
    } else {
      ++t.failed;
      if (t.first_failure.empty()) t.first_failure = conv + ": " + failure;
    }
  }

  auto known = known_failures();
  std::ofstream report(kWorkDir + "/chat_template_report.txt");
  int identical = 0, both_raise = 0, failed = 0, templates_failing = 0;
  for (const auto& [name, t] : tally) {
    identical += t.identical;
    both_raise += t.both_raise;
    failed += t.failed;
    std::ostringstream line;
    line << name << ": " << t.identical << " identical, " << t.both_raise << " raise on both sides";
    if (t.failed) {
      ++templates_failing;
      line << ", " << t.failed << " FAIL (first: " << t.first_failure << ")";
    }
    report << line.str() << "\n";
    if (t.failed) std::cout << line.str() << "\n";
    if (t.failed && !known.count(name)) ADD_FAILURE() << "not in known_failures.txt: " << line.str();
    if (!t.failed && known.count(name))
      ADD_FAILURE() << name << " now matches Jinja2 on every conversation: take it off known_failures.txt";
  }
  for (const auto& [name, reason] : known)
    if (!tally.count(name)) ADD_FAILURE() << "known_failures.txt names " << name << ", which is not among the templates";
  std::ostringstream summary;
  summary << tally.size() << " templates x " << conversations.size() << " conversations: " << identical
          << " byte-identical, " << both_raise << " raise on both sides, " << failed << " differ ("
          << templates_failing << " templates; known_failures.txt lists " << known.size() << ")";
  report << summary.str() << "\n";
  std::cout << summary.str() << "\nreport: " << kWorkDir << "/chat_template_report.txt\n";
}
