/** Process entry of the `rowtrail` command (bin/rowtrail.js loads the compiled copy of this file). */
import { endQuietlyOnClosedOutput, main } from './main.js';

endQuietlyOnClosedOutput();
process.exitCode = await main(process.argv);
