/**
 * Shared jest configuration for every socketkit package: ts-jest in ESM mode,
 * `.js` import specifiers mapped back to their `.ts` sources, results written
 * to `.jest-results.json` so the root test script can total them.
 * @param {{ testTimeout?: number, testMatch?: string[] }} [overrides]
 */
export function jestConfig(overrides = {}) {
  return {
    preset: 'ts-jest/presets/default-esm',
    testEnvironment: 'node',
    roots: ['<rootDir>/test'],
    testMatch: ['**/*.test.ts'],
    moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
    transform: {
      '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.json' }],
    },
    testTimeout: 20000,
    ...overrides,
  };
}
