import { jestConfig } from '../../jest.base.mjs';
// The broker's test files mostly wait on child processes (spawns, heartbeats, kills), not on the CPU:
// two files at a time halve the wall time.
export default jestConfig({ maxWorkers: 2 });
