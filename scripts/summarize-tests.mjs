// Prints the one-line summary CI reads ("N passed, M failed") from Vitest's JSON report.
import { readFileSync } from 'node:fs';

const file = process.argv[2];
let passed = 0;
let failed = 0;
try {
  const report = JSON.parse(readFileSync(file, 'utf8'));
  passed = report.numPassedTests ?? 0;
  failed = (report.numFailedTests ?? 0) + (report.numRuntimeErrorTestSuites ?? 0);
  if (report.numPendingTests || report.numTodoTests) {
    console.log(
      `(${report.numPendingTests + report.numTodoTests} skipped or todo tests are not counted as passed)`,
    );
  }
} catch (error) {
  console.error(`could not read the test report ${file}: ${error.message}`);
  failed = 1;
}
console.log(`${passed} passed, ${failed} failed`);
