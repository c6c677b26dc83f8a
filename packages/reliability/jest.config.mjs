import { jestConfig } from '../../jest.base.mjs';
// Fault and load scenarios spawn processes and run for seconds: one file at a time.
export default jestConfig({ testTimeout: 120000, maxWorkers: 1 });
