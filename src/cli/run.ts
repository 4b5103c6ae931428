/** Process entry of the `rowtrail` command (bin/rowtrail.js loads the compiled copy of this file). */
import { main } from './main.js';

process.exitCode = await main(process.argv);
