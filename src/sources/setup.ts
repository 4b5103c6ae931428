/** What `rowtrail setup` takes and returns, the same for every kind of source. */
export interface SetupOptions {
  /** Return the SQL instead of running it; problems that would stop setup are listed, never thrown. */
  dryRun?: boolean;
  /** `full`: set REPLICA IDENTITY FULL on watched tables that have DEFAULT/NOTHING (or no key). */
  replicaIdentity?: 'full';
  /** Remove what setup created for this source (slot, publication, its precise-mode triggers). */
  uninstall?: boolean;
  /** Called before each step runs (not on a dry run): steps done so far, all steps, what this one does. */
  onStep?: (done: number, total: number, note: string) => void;
}

export interface SetupResult {
  /** Statements run (or, with dryRun, to run), in order. */
  statements: string[];
  /** Human lines: what was done or already in place. */
  notes: string[];
  /** What blocks setup (or capture), one line each with its fix; printed first by `setup --dry-run`. */
  problems?: string[];
}
