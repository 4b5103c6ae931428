/** The fault suite against PostgreSQL (see cases.ts; figures in .tmp/faults-figures.json). */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { postgresBed, type Bed } from './bed.js';
import * as cases from './cases.js';

let bed: Bed;
beforeAll(async () => {
  bed = await postgresBed();
});
afterAll(async () => {
  await bed?.destroy();
});

describe('PostgreSQL under faults: nothing lost, nothing duplicated, health truthful', () => {
  it('SIGKILL of the daemon mid-stream, during connect and mid large transaction', () => cases.daemonSignals(bed, 'SIGKILL'));
  it('SIGTERM of the daemon mid-stream, during connect and mid large transaction', () => cases.daemonSignals(bed, 'SIGTERM'));
  it('SIGTERM while the database is unreachable', () => cases.sigtermUnreachable(bed));
  it('database restarts, fast and immediate', () => cases.serverRestarts(bed));
  it('network blackhole longer than the watchdog bound', () => cases.blackhole(bed));
  it('connection resets and refused connections', () => cases.resets(bed));
  it.skipIf(cases.diskFullSkip())('the store disk fills up', () => cases.diskFull(bed));
  it("the identity sampler's server goes away", () => cases.samplerAway(bed));
  it('the store is locked by another daemon', () => cases.storeLocked(bed));
});
