// The one version string of the three programs (twill, twilld, twillctl print it the same way).
// Kept equal to package.json's by a unit test (test/unit/daemon-options.test.ts).
export const VERSION = '0.1.0';
