/** The AI-agent workload shared by the PostgreSQL and MariaDB identity tests. */
import { formatComment, withSignature } from '../../src/identity/index.js';

/**
 * The n-th statement of agent session i on a shared account: its sqlcommenter comment (every third one forged,
 * signed with another key) and the truth the row records (`agent` null where the context must not be trusted).
 */
export function agentStatement(i: number, n: number, key: string, user: string): { comment: string; who: string } {
  const forged = n % 3 === 0;
  const agent = `agent-${i}`;
  const ctx = withSignature({ agent, run: `r-${i}-${n}`, on_behalf_of: 'bob' }, forged ? 'some-other-key-xxxxxxxx' : key);
  return { comment: formatComment(ctx), who: JSON.stringify({ user, app: 'agent-runner', agent: forged ? null : agent, claimed: agent }) };
}
