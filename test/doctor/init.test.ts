/** `rowtrail init`'s closing hint: the setup command that makes updates and deletes undoable, and why. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../harness/cli.js';
import { tempDir } from './helpers.js';

describe('init', () => {
  it('hints setup --replica-identity full and says what happens without it', async () => {
    const r = await runCli(['init', '--config', join(tempDir('init'), 'rowtrail.yaml')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('rowtrail setup --replica-identity full');
    expect(r.stdout).toMatch(/without --replica-identity full, updates and deletes .* cannot be undone/);
  });
});
