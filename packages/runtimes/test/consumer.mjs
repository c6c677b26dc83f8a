// ESM consumer: loads the built packages through their public `import` exports.
import * as tcp from '@socketkit/tcp';
import * as unix from '@socketkit/unix';
import scenarios from './scenarios.cjs';

await scenarios.runAll({ unix, tcp });
