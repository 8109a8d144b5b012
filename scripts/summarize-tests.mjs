// Prints the one-line summary CI reads ("N passed, M failed") from Vitest's JSON report.
// A test counts as passed only if it ran and passed. Tests of a file that failed
// as a whole (a throwing beforeAll, an import error) did not run: they count as
// failed, and so does such a file when it reported no tests at all.
import { readFileSync } from 'node:fs';

const file = process.argv[2];
let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const report = JSON.parse(readFileSync(file, 'utf8'));
  for (const suite of report.testResults ?? []) {
    const suiteFailed = suite.status === 'failed';
    const tests = suite.assertionResults ?? [];
    if (suiteFailed && tests.length === 0) failed++;
    for (const test of tests) {
      if (test.status === 'passed') passed++;
      else if (test.status === 'failed' || suiteFailed) failed++;
      else skipped++;
    }
  }
  if (skipped > 0) console.log(`(${skipped} skipped or todo tests are not counted as passed)`);
  if (!report.success && failed === 0) failed = 1; // a failure the report does not tie to a test
} catch (error) {
  console.error(`could not read the test report ${file}: ${error.message}`);
  failed = 1;
}
console.log(`${passed} passed, ${failed} failed`);
