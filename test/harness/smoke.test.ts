import { describe, it, expect } from 'vitest';
import { sharedPg } from './shared.js';
import { startMariadb } from './mariadb.js';

describe('test harness', () => {
  it('runs a throwaway PostgreSQL with logical decoding, not the machine server', async () => {
    const pg = sharedPg();
    expect(pg.port).not.toBe(5432);
    expect((await pg.psql('show wal_level')).trim()).toBe('logical');
  });
  it('runs a throwaway MariaDB with a full row binlog', async () => {
    const m = await startMariadb();
    try {
      expect(m.port).not.toBe(3306);
      const out = await m.sql("select @@binlog_format, @@binlog_row_image, @@binlog_row_metadata, @@log_bin");
      expect(out.trim().split('\t')).toEqual(['ROW', 'FULL', 'FULL', '1']);
    } finally {
      await m.destroy();
    }
  });
});
