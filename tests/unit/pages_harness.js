// Runs the judge's page script (services/gateway/static/pages.js) as it is, in a vm context of
// its own, and answers calls of its pure functions for tests/unit/test_scoring_rule_agreement.py.
//
//   node pages_harness.js PAGES_JS
//
// Each line on stdin is a JSON list of calls, [["scoreProblem", criterion, text], ...]; the answer
// is one line on stdout, a JSON list with, for each call, {"value": ...} or {"error": "..."} (what
// it threw). The context has no window, document or localStorage: the functions called here use
// none, and one that did would answer a ReferenceError.
"use strict";
const fs = require("fs");
const readline = require("readline");
const vm = require("vm");

const file = process.argv[2];
const context = vm.createContext({});
vm.runInContext(fs.readFileSync(file, "utf8"), context, {filename: file});
const Leitai = vm.runInContext("Leitai", context); // the script's own global, as a page sees it

function answer(call) {
  const [name, ...args] = call;
  if (typeof Leitai[name] !== "function") return {error: "pages.js has no function " + name};
  try {
    const value = Leitai[name](...args);
    return {value: typeof value === "bigint" ? value.toString() : value};
  } catch (e) {
    return {error: String(e)};
  }
}

readline.createInterface({input: process.stdin}).on("line", (line) => {
  process.stdout.write(JSON.stringify(JSON.parse(line).map(answer)) + "\n");
});
