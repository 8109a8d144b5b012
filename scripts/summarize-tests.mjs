// Prints the one-line summary CI reads ("N passed, M failed") from Vitest's JSON reports.
// A test counts as passed only if it ran and passed. Tests of a file that failed
// as a whole (a throwing beforeAll, an import error) did not run: they count as
// failed, and so does such a file when it reported no tests at all.
import { readFileSync } from 'node:fs';

const files = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
if (files.length === 0) {
  console.error('usage: summarize-tests.mjs <vitest json report>...');
  failed = 1;
}
// Several reports (the suite, then the compatibility job) add up to one line.
for (const file of files) {
  try {
    const report = JSON.parse(readFileSync(file, 'utf8'));
    let failedHere = 0;
    for (const suite of report.testResults ?? []) {
      const suiteFailed = suite.status === 'failed';
      const tests = suite.assertionResults ?? [];
      if (suiteFailed && tests.length === 0) failedHere++;
      for (const test of tests) {
        if (test.status === 'passed') passed++;
        else if (test.status === 'failed' || suiteFailed) failedHere++;
        else skipped++;
      }
    }
    if (!report.success && failedHere === 0) failedHere = 1; // a failure the report does not tie to a test
    failed += failedHere;
  } catch (error) {
    console.error(`could not read the test report ${file}: ${error.message}`);
    failed++;
  }
}
if (skipped > 0) console.log(`(${skipped} skipped or todo tests are not counted as passed)`);
console.log(`${passed} passed, ${failed} failed`);
