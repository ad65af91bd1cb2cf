"""Runs every end-to-end test module (test_*.py beside this file) and prints the
"RESULT: N passed, N failed" line that scripts/test sums."""
import os
import sys
import time
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(1, os.path.join(here, "..", "integration"))
t0 = time.time()
suite = unittest.defaultTestLoader.discover(here, pattern=sys.argv[1] if len(sys.argv) > 1 else "test_*.py",
                                            top_level_dir=here)
result = unittest.TextTestRunner(verbosity=2).run(suite)
bad = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
print("e2e: %.1fs" % (time.time() - t0))
print("RESULT: %d passed, %d failed" % (result.testsRun - bad - len(result.skipped), bad))
sys.exit(0 if bad == 0 else 1)
