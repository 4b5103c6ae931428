/**
 * Every option given a wrong type, an unknown value or an empty string: one line on stderr naming the option
 * and what it takes, exit 2, nothing on stdout. The config is valid and its store holds a change, so a value
 * that slipped through would print changes (or fail later, differently) instead.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../harness/cli.js';
import { ago, change, fixtureStore, HOUR, type FixtureStore } from './fixture-store.js';

let fx: FixtureStore;

beforeAll(() => {
  fx = fixtureStore([{ xid: '1', commitTime: ago(HOUR / 2), actor: { user: 'alice', kind: 'human', confidence: 'exact' }, changes: [change('t', 'insert', { id: '1' }, null, { id: '1' })] }]);
});
afterAll(() => fx?.remove());

/** [arguments, what the one line must say]; `CFG` is replaced by the fixture's config file. */
const BAD: [string[], RegExp][] = [
  [['changes', '--limit', 'abc'], /--limit 'abc': expected a whole number from 1 up/],
  [['changes', '--limit', '0'], /--limit '0': expected a whole number/],
  [['changes', '-n', '2.5'], /--limit '2\.5': expected a whole number/],
  [['changes', '--limit'], /--limit needs a value/],
  [['changes', '--op', 'upsert'], /--op 'upsert': expected one of insert, update, delete, truncate, ddl/],
  [['changes', '--op', ''], /--op '': expected one of/],
  [['changes', '--since', 'yesterday'], /--since 'yesterday': expected a duration \(10m, 1h, 2d\) or a time/],
  [['changes', '--until', ''], /--until '': must not be empty/],
  [['changes', '--table', ''], /--table '': must not be empty/],
  [['changes', '--tx', ' '], /--tx ' ': must not be empty/],
  [['changes', '--actor', ''], /--actor '': must not be empty/],
  [['changes', '--agent-run', ''], /--agent-run '': must not be empty/],
  [['changes', '--source', ''], /--source '': must not be empty/],
  [['changes', '--config', ''], /--config '': must not be empty/],
  [['changes', '--colour'], /unknown option '--colour'/],
  [['actors', '--since', '5 parsecs'], /--since '5 parsecs': expected a duration/],
  [['setup', '--replica-identity', 'partial'], /--replica-identity 'partial': expected one of full/],
  [['setup', '--source', ''], /--source '': must not be empty/],
  [['doctor', '--source', ''], /--source '': must not be empty/],
  [['init', '--config', ''], /--config '': must not be empty/],
  [['watch', '--config', ''], /--config '': must not be empty/],
  [['alerts', '--limit', 'abc'], /--limit 'abc': expected a whole number from 1 up/],
  [['alerts', '--since', 'soon'], /--since 'soon': expected a duration/],
  [['alerts', 'frobnicate'], /unknown alerts action 'frobnicate'/],
  [['baseline', 'show', '--config', 'rowtrail.yaml', '--actor', ''], /--actor '': must not be empty/],
  [['backtest', '--detector', 'volume-spike'], /required option '--csv <file>' not specified/],
  [['actors', '--source', ''], /--source '': must not be empty/],
  [['blame', '', '1'], /<table> '': must not be empty/],
  [['blame', 'public.t', '--key', 'id'], /--key 'id': expected col=value/],
  [['blame', 'public.t', '--key', '=1'], /--key '=1': expected col=value/],
  [['blame'], /missing required argument 'table'/],
  [['undo', '--tx', '1', '--format', 'xml'], /--format 'xml': expected one of sql, json/],
  [['undo', '--tx', ''], /--tx '': must not be empty/],
  [['undo', '--actor', 'x', '--since', 'soon'], /--since 'soon': expected a duration/],
  [['undo'], /select what to revert with --tx, --change, --actor, --agent-run or --table/],
  [['demo', '--port', 'abc'], /--port 'abc': expected a port number from 1 to 65535/],
  [['demo', '--port', '70000'], /--port '70000'/],
  [['chnages'], /unknown command 'chnages' \(Did you mean changes\?\)/],
];

describe('bad options: one line and exit 2', () => {
  it.each(BAD.map(([a, re]) => [a.join(' '), a, re] as const))('rowtrail %s', async (_name, args, re) => {
    const [cmd, ...rest] = args;
    const withConfig = ['demo', 'chnages'].includes(cmd!) || args.includes('--config') ? args : [cmd!, '--config', fx.config, ...rest];
    const r = await runCli(withConfig);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^rowtrail: /);
    expect(lines[0]).toMatch(re);
  });

  it('the same options with good values work (the table above is not rejecting everything)', async () => {
    const r = await runCli(['changes', '--config', fx.config, '--limit', '5', '--op', 'insert', '--since', '1h', '--until', '2999-01-01T00:00:00Z', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const blame = await runCli(['blame', '--config', fx.config, 'public.t', '--key', 'id=1']);
    expect(blame.code, blame.stderr).toBe(0);
  });
});

describe('help and version', () => {
  it.each(['changes', 'actors', 'blame', 'undo', 'demo'])('rowtrail %s --help shows examples of that command', async (cmd) => {
    const r = await runCli([cmd, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`\\nExamples:\\n(  rowtrail ${cmd} .*\\n)+`));
  });

  it('--version prints the version in package.json', async () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8'));
    const r = await runCli(['--version']);
    expect(r.stdout).toBe(`${pkg.version}\n`);
  });
});
