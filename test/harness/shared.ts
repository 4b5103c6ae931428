import { inject } from 'vitest';
import { attachPostgres, type PgServer } from './postgres.js';

/** The run's shared PostgreSQL (started by the global setup). Do not stop it; make a fresh database. */
export function sharedPg(): PgServer {
  return attachPostgres(inject('pg'));
}
