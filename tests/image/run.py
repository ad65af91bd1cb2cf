"""Runs the image tests (test_image.py: scripts/image builds the image, buildah run starts
it) and prints the "RESULT: N passed, N failed" line that scripts/test sums."""
import os
import sys
import time
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
t0 = time.time()
suite = unittest.defaultTestLoader.loadTestsFromName(sys.argv[1] if len(sys.argv) > 1 else "test_image")
result = unittest.TextTestRunner(verbosity=2).run(suite)
bad = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
print("image: %.1fs" % (time.time() - t0))
print("RESULT: %d passed, %d failed" % (result.testsRun - bad - len(result.skipped), bad))
sys.exit(0 if bad == 0 else 1)
