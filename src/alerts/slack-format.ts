/**
 * An alert as a Slack message (pure): Block Kit blocks plus the plain `text` fallback (notifications, screen
 * readers). Every text is cut to Block Kit's documented limits (api.slack.com/reference/block-kit/blocks:
 * header plain_text 150 characters, section text 3000, at most 10 fields of 2000 each, context at most 10
 * elements, at most 50 blocks a message), so a huge evidence never makes Slack reject the message. mrkdwn
 * needs `&`, `<` and `>` escaped; the cuts never split an escape or a surrogate pair. The undo command is shown
 * whole or not at all (a cut command would be a wrong command).
 */
import type { Alert } from '../model/index.js';
import { actorText, clipText, evidenceDetails, evidenceLine, headline, rowsText, whereText, windowText, type Notice } from './alert-text.js';

export const SLACK_LIMITS = { header: 150, section: 3000, field: 2000, fields: 10, context: 10, contextText: 2000, blocks: 50, text: 3000 } as const;

export interface SlackMessage {
  text: string;
  blocks: Record<string, unknown>[];
}

/** Escapes mrkdwn's control characters. */
export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Escapes `raw` for mrkdwn and cuts it to `max` units without splitting an escape. */
export function mrkdwn(raw: string, max: number): string {
  const esc = escapeMrkdwn(raw);
  if (esc.length <= max) return esc;
  let cut = clipText(esc, max);
  // drop an escape cut in half (`&am…`)
  cut = cut.replace(/&[a-z]{0,3}…$/, '…');
  return cut;
}

const ICON: Record<string, string> = { critical: ':red_circle:', warning: ':warning:', info: ':information_source:' };

/** The full message of an alert (opened, updated, test; and resolved where it is posted on its own). */
export function slackMessage(a: Alert, notice: Notice): SlackMessage {
  const icon = notice === 'resolved' ? ':white_check_mark:' : (ICON[a.severity] ?? '');
  const head = headline(a, notice);
  const blocks: Record<string, unknown>[] = [
    { type: 'header', text: { type: 'plain_text', text: clipText(head, SLACK_LIMITS.header) || 'rowtrail alert', emoji: true } },
    { type: 'section', text: { type: 'mrkdwn', text: mrkdwn(a.summary || a.title, SLACK_LIMITS.section) || ' ' } },
  ];
  const field = (label: string, value: string) => ({ type: 'mrkdwn', text: `*${label}*\n${mrkdwn(value, SLACK_LIMITS.field - label.length - 4)}` });
  const fields = [
    field('Severity', `${icon} ${a.severity}${a.state === 'resolved' ? ' (resolved)' : ''}`),
    field('Actor', actorText(a)),
    field('Source / table', whereText(a)),
    field('Window', windowText(a)),
  ];
  const rows = rowsText(a);
  if (rows) fields.push(field('Rows', rows));
  fields.push(field('Detector', a.detector));
  blocks.push({ type: 'section', fields: fields.slice(0, SLACK_LIMITS.fields) });
  const details = evidenceDetails(a);
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text: lines('*Evidence*', [evidenceLine(a), ...details], SLACK_LIMITS.section) } });
  if (a.txIds.length) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: lines(`*Transactions* (${a.txIds.length})`, [a.txIds.map((t) => `\`${t}\``).join(' ')], SLACK_LIMITS.section) },
    });
  }
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text: undoText(a) } });
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: mrkdwn(`rowtrail · alert ${a.id} · ${a.state}`, SLACK_LIMITS.contextText) }],
  });
  return { text: fallback(a, notice), blocks: blocks.slice(0, SLACK_LIMITS.blocks) };
}

/** A short message for a resolve posted as a threaded reply under the alert's first message. */
export function slackResolvedReply(a: Alert): SlackMessage {
  const text = clipText(`Resolved: ${a.title} (${windowText(a)})`, SLACK_LIMITS.text);
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `:white_check_mark: ${mrkdwn(`Resolved (${windowText(a)}): ${a.title}`, SLACK_LIMITS.section - 20)}` } },
    ],
  };
}

/** The plain text of a message: what, who, where, the evidence and the undo command. */
export function fallback(a: Alert, notice: Notice): string {
  const undo = a.undo ? `Undo: ${a.undo}` : '';
  const body = [`[${a.severity}] ${headline(a, notice)}`, `${actorText(a)} · ${whereText(a)} · ${evidenceLine(a)}`].join('\n');
  // the undo command is kept whole at the end when it fits; the rest is cut first
  if (undo && undo.length + 1 < SLACK_LIMITS.text / 2) return `${escapeText(clipText(body, SLACK_LIMITS.text - undo.length - 1))}\n${escapeText(undo)}`;
  return escapeText(clipText(body, SLACK_LIMITS.text));
}

function escapeText(s: string): string {
  // `text` is mrkdwn too; escaping can lengthen it, so cut again after
  return mrkdwn(s, SLACK_LIMITS.text);
}

function lines(title: string, items: string[], max: number): string {
  let out = title;
  for (const it of items) {
    const room = max - out.length - 1;
    if (room < 8) break;
    out += `\n${mrkdwn(it, room)}`;
  }
  return out;
}

function undoText(a: Alert): string {
  if (!a.undo) return '*Undo*\nnot revertible by `rowtrail undo` (see the summary)';
  const cmd = escapeMrkdwn(a.undo);
  const text = `*Undo*\n\`\`\`${cmd}\`\`\``;
  if (text.length <= SLACK_LIMITS.section) return text;
  return mrkdwn(`*Undo*\nthe command is too long for Slack: run \`rowtrail alerts show ${a.id}\``, SLACK_LIMITS.section);
}

/** Alerts shown in full in a grouped message; the rest are counted. */
export const GROUP_SHOWN = 10;

/**
 * A storm as one message (a channel gets one message a second): the first alerts with their title, who, where,
 * evidence and undo command, and a count of the rest.
 */
export function slackGroupMessage(alerts: Alert[]): SlackMessage {
  const shown = alerts.slice(0, GROUP_SHOWN);
  const rest = alerts.length - shown.length;
  const worst = alerts.some((a) => a.severity === 'critical') ? 'critical' : alerts.some((a) => a.severity === 'warning') ? 'warning' : 'info';
  const blocks: Record<string, unknown>[] = [
    { type: 'header', text: { type: 'plain_text', text: clipText(`${alerts.length} new alerts`, SLACK_LIMITS.header), emoji: true } },
  ];
  for (const a of shown) {
    const undo = a.undo && a.undo.length < 1500 ? `\n\`\`\`${escapeMrkdwn(a.undo)}\`\`\`` : '';
    const head = mrkdwn(`${a.title}`, 1000);
    const line = mrkdwn(`${actorText(a)} · ${whereText(a)} · ${evidenceLine(a)}`, 400);
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `${ICON[a.severity] ?? ''} *${head}*\n${line}${undo}` } });
  }
  const more = rest > 0 ? `and ${rest} more; ` : '';
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `rowtrail · ${more}all of them: \`rowtrail alerts --open\`` }] });
  const text = `[${worst}] ${alerts.length} new alerts: ${alerts.map((a) => a.title).join('; ')}`;
  return { text: mrkdwn(text, SLACK_LIMITS.text), blocks };
}
