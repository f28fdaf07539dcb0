/**
 * @module
 * The `raftkit` command from source (what the npm scripts `sim` and `soak` run through tsx);
 * `bin/raftkit.js` runs the compiled one.
 */
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
