/**
 * Prints the suite's closing line in the plain form CI reads from any runner: "N passed, N failed".
 * (Jest's own summary says "Tests: N passed, N total", which is not that form.)
 */
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const tail = skipped ? `, ${skipped} skipped` : '';
    process.stdout.write(`\n${results.numPassedTests} passed, ${results.numFailedTests} failed${tail}\n`);
  }
}
module.exports = SummaryReporter;
