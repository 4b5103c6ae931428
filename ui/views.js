// rowtrail web UI: the views. Each view renders into ctx.main and returns its cleanup (or nothing).

/** Builds an element; children are nodes or text (always text: never parsed as HTML). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const fmtTime = (iso) => {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { hour12: false });
};

const value = (v) => (v === null || v === undefined ? h('span', { class: 'null' }, 'null') : h('span', {}, v));

function td(label, ...children) {
  return h('td', { 'data-label': label }, ...children);
}

export function actorName(a) {
  if (!a) return 'unknown';
  return a.agent || a.user || a.kind || 'unknown';
}

function actorCell(a) {
  const sub = [a?.agent && a?.user ? `as ${a.user}` : null, a?.kind, a?.confidence].filter(Boolean).join(' · ');
  return h('span', { class: 'actor' }, h('b', {}, actorName(a)), h('span', { class: 'sub' }, sub));
}

const keyText = (key) => (key ? Object.entries(key).map(([k, v]) => `${k}=${v}`).join(', ') : '—');

function historyLink(ev) {
  if (!ev.key) return h('span', { class: 'mono' }, '—');
  const q = new URLSearchParams({ table: `${ev.schema}.${ev.table}`, key: JSON.stringify(ev.key), source: ev.source });
  return h('a', { class: 'mono', href: `#/history?${q}`, title: 'this row’s history' }, keyText(ev.key));
}

/** What changed: col before → after for updates, the image for inserts and deletes. */
function diff(ev) {
  if (ev.op === 'ddl') return h('code', {}, ev.ddl || '');
  if (ev.op === 'truncate') return h('span', { class: 'muted' }, 'all rows');
  const cols = ev.op === 'update' ? ev.changed : Object.keys((ev.op === 'delete' ? ev.before : ev.after) || {});
  const items = cols.slice(0, 8).map((c) => {
    if (ev.op === 'update') {
      return h('li', {}, h('span', { class: 'col' }, `${c}: `), h('span', { class: 'old' }, value(ev.before?.[c])), ' → ', h('span', { class: 'new' }, value(ev.after?.[c])));
    }
    const img = ev.op === 'delete' ? ev.before : ev.after;
    return h('li', {}, h('span', { class: 'col' }, `${c}: `), value(img?.[c]));
  });
  if (cols.length > 8) items.push(h('li', { class: 'muted' }, `… ${cols.length - 8} more`));
  return h('ul', { class: 'diff' }, items);
}

function changeRow(ev, fresh = false) {
  return h(
    'tr',
    { class: fresh ? 'fresh' : false, 'data-id': ev.id },
    td('When', h('span', { title: ev.tx.commitTime }, fmtTime(ev.tx.commitTime))),
    td('Who', actorCell(ev.actor)),
    td('Op', h('span', { class: `op ${ev.op}` }, ev.op)),
    td('Table', h('span', { class: 'mono' }, `${ev.schema}.${ev.table}`)),
    td('Row', historyLink(ev)),
    td('Change', diff(ev)),
  );
}

function changesTable(events, id = 'changes') {
  const body = h('tbody', {}, events.map((ev) => changeRow(ev)));
  const table = h(
    'table',
    { id },
    h('thead', {}, h('tr', {}, ['When', 'Who', 'Op', 'Table', 'Row', 'Change'].map((t) => h('th', {}, t)))),
    body,
  );
  return { table, body };
}

export function sourcePills(sources) {
  return sources.map((s) => {
    const ok = s.healthy !== false;
    const lag = typeof s.lagSeconds === 'number' ? ` · lag ${s.lagSeconds < 10 ? s.lagSeconds.toFixed(1) : Math.round(s.lagSeconds)} s` : '';
    return h('span', { class: `pill ${ok ? 'ok' : 'bad'}`, title: (s.problems || []).join('; ') || s.state }, `${s.name}: ${s.state}${lag}`);
  });
}

function matches(ev, f) {
  if (f.table && `${ev.schema}.${ev.table}` !== f.table && ev.table !== f.table) return false;
  if (f.op && ev.op !== f.op) return false;
  if (f.actor && ![ev.actor?.user, ev.actor?.agent, ev.actor?.kind].includes(f.actor)) return false;
  if (f.source && ev.source !== f.source) return false;
  return true;
}

function filterForm(fields, params, onSubmit, button = 'Filter') {
  const inputs = {};
  const form = h(
    'form',
    { class: 'filters' },
    fields.map(([name, label, opts = {}]) => {
      const input = opts.options
        ? h('select', { name }, opts.options.map((o) => h('option', { value: o, selected: params.get(name) === o }, o || 'any')))
        : h('input', { name, placeholder: opts.placeholder || '', value: params.get(name) || '', size: opts.size || 14 });
      inputs[name] = input;
      return h('label', {}, label, input);
    }),
    h('button', { class: 'primary', type: 'submit' }, button),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const [k, el] of Object.entries(inputs)) if (el.value.trim()) q.set(k, el.value.trim());
    onSubmit(q);
  });
  return form;
}

// ---- live feed ----------------------------------------------------------------------------------------

export async function viewFeed(ctx) {
  const f = Object.fromEntries(ctx.params);
  const q = new URLSearchParams({ limit: '50' });
  for (const k of ['table', 'actor', 'op', 'source']) if (f[k]) q.set(k, f[k]);
  const page = await ctx.api(`/api/v1/changes?${q}`);
  const dot = h('span', { class: 'dot' });
  const state = h('span', {}, 'connecting…');
  const { table, body } = changesTable(page.changes, 'feed');
  const empty = h('p', { class: 'empty', hidden: page.changes.length > 0 }, 'No changes stored yet. They appear here as they are committed.');
  let next = page.next;
  const moreBtn = h('button', { class: 'secondary', hidden: !next }, 'Older changes');
  moreBtn.addEventListener('click', async () => {
    const more = await ctx.api(`/api/v1/changes?${q}&cursor=${encodeURIComponent(next)}`);
    for (const ev of more.changes) body.append(changeRow(ev));
    next = more.next;
    moreBtn.hidden = !next;
  });
  ctx.main.replaceChildren(
    h('h1', {}, 'Live feed'),
    filterForm(
      [
        ['table', 'Table', { placeholder: 'schema.table' }],
        ['actor', 'Actor', { placeholder: 'user, agent or kind' }],
        ['op', 'Operation', { options: ['', 'insert', 'update', 'delete', 'truncate', 'ddl'] }],
      ],
      ctx.params,
      (p) => ctx.navigate(`#/feed?${p}`),
    ),
    h('p', { class: 'status', id: 'feed-status' }, dot, state),
    table,
    empty,
    h('p', { class: 'more' }, moreBtn),
  );
  const es = new EventSource('/api/v1/changes/stream');
  es.addEventListener('hello', () => {
    dot.classList.add('live');
    state.textContent = 'live: new changes appear at the top as they are committed';
  });
  es.addEventListener('change', (m) => {
    const ev = JSON.parse(m.data);
    if (!matches(ev, f)) return;
    empty.hidden = true;
    body.prepend(changeRow(ev, true));
    while (body.children.length > 500) body.lastElementChild.remove();
  });
  es.addEventListener('skipped', (m) => {
    state.textContent = `live: a burst — ${JSON.parse(m.data).count} changes not shown (use the filters or Older changes)`;
  });
  es.onerror = () => {
    dot.classList.remove('live');
    state.textContent = 'reconnecting…';
  };
  return () => es.close();
}

// ---- alerts -------------------------------------------------------------------------------------------

function alertCard(a, link = true) {
  const title = link ? h('a', { class: 'title', href: `#/alerts/${encodeURIComponent(a.id)}` }, a.title) : a.title;
  return h(
    'div',
    { class: `panel alert-card ${a.severity}`, 'data-alert': a.id },
    h('h3', {}, h('span', { class: `pill ${a.severity}` }, a.severity), ' ', title),
    h('p', {}, a.summary),
    h(
      'p',
      { class: 'muted' },
      [actorName(a.actor), a.table, fmtTime(a.window.from), a.state === 'open' ? 'open' : 'resolved', a.detector].filter(Boolean).join(' · '),
    ),
  );
}

export async function viewAlerts(ctx) {
  const open = ctx.params.get('open') === 'true';
  const { alerts } = await ctx.api(`/api/v1/alerts?limit=100${open ? '&open=true' : ''}`);
  ctx.main.replaceChildren(
    h('h1', {}, 'Alerts'),
    h('p', {}, open ? h('a', { href: '#/alerts' }, 'Show all') : h('a', { href: '#/alerts?open=true' }, 'Only open ones')),
    ...(alerts.length ? alerts.map((a) => alertCard(a)) : [h('p', { class: 'empty panel' }, 'No alerts. The detectors raise one when activity deviates from what they learned.')]),
  );
}

function copyButton(text) {
  const b = h('button', { class: 'secondary', type: 'button' }, 'Copy');
  b.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      b.textContent = 'Copied';
    } catch {
      b.textContent = 'Select and copy';
    }
  });
  return b;
}

function evidence(ev) {
  return h(
    'dl',
    { class: 'kv' },
    Object.entries(ev).flatMap(([k, v]) => [h('dt', {}, k), h('dd', { class: 'mono' }, typeof v === 'object' ? JSON.stringify(v) : String(v))]),
  );
}

const FLAGS = { '--tx': 'tx', '--change': 'change', '--actor': 'actor', '--agent-run': 'agentRun', '--since': 'since', '--until': 'until', '--table': 'table', '--source': 'source' };

/** The selection of a `rowtrail undo …` command line (words, single-quoted or bare), or null if it has others. */
export function selectionOf(cmd) {
  const words = [...cmd.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]));
  if (words[0] !== 'rowtrail' || words[1] !== 'undo') return null;
  const q = new URLSearchParams();
  for (let i = 2; i < words.length; i += 2) {
    const k = FLAGS[words[i]];
    if (!k || words[i + 1] === undefined) return null;
    q.append(k, words[i + 1]);
  }
  return q;
}

export async function viewAlert(ctx, id) {
  const { alert: a, changes, more } = await ctx.api(`/api/v1/alerts/${encodeURIComponent(id)}`);
  const preview = a.undo ? selectionOf(a.undo) : null;
  ctx.main.replaceChildren(
    h('p', {}, h('a', { href: '#/alerts' }, '← All alerts')),
    alertCard(a, false),
    h('h2', {}, 'Evidence'),
    h('div', { class: 'panel', id: 'evidence' }, evidence(a.evidence), h('p', { class: 'muted' }, `Window ${fmtTime(a.window.from)} → ${fmtTime(a.window.to)}`)),
    h('h2', {}, 'Undo'),
    a.undo
      ? h(
          'div',
          { class: 'panel' },
          h('p', {}, 'Reverts this activity (the CLI asks before applying; conflicts are refused):'),
          h('div', { class: 'cmd' }, h('pre', { id: 'undo-command' }, a.undo), copyButton(a.undo)),
          preview ? h('p', {}, h('a', { href: `#/undo?${preview}`, id: 'preview-undo' }, 'Preview this undo and its conflicts →')) : null,
        )
      : h('p', { class: 'panel muted' }, 'This alert has no undo (nothing to revert).'),
    h('h2', {}, `Changes (${changes.length}${more ? '+' : ''})`),
    changesTable(changes, 'alert-changes').table,
  );
}

// ---- actors -------------------------------------------------------------------------------------------

export async function viewActors(ctx) {
  const since = ctx.params.get('since') ?? '24h';
  const { actors } = await ctx.api(`/api/v1/actors${since ? `?since=${encodeURIComponent(since)}` : ''}`);
  const windows = [['1h', 'last hour'], ['24h', 'last 24 hours'], ['7d', 'last 7 days'], ['', 'all stored']];
  ctx.main.replaceChildren(
    h('h1', {}, 'Actors'),
    h('p', {}, windows.map(([w, label]) => [w === since ? h('b', {}, label) : h('a', { href: `#/actors?since=${w}` }, label), ' '])),
    actors.length
      ? h(
          'table',
          { id: 'actors' },
          h('thead', {}, h('tr', {}, ['Actor', 'Kind', 'Confidence', 'Transactions', 'Changes', 'Tables', 'Last'].map((t) => h('th', {}, t)))),
          h(
            'tbody',
            {},
            actors.map((a) =>
              h(
                'tr',
                {},
                td('Actor', h('a', { href: `#/feed?actor=${encodeURIComponent(a.agent || a.user || a.kind)}` }, a.agent || a.user || a.kind), a.agent && a.user ? h('span', { class: 'muted' }, ` as ${a.user}`) : null),
                td('Kind', h('span', { class: `pill ${a.kind === 'ai-agent' ? 'warn' : a.kind === 'human' ? 'ok' : 'muted'}` }, a.kind)),
                td('Confidence', a.confidence),
                td('Transactions', a.transactions),
                td('Changes', a.changes),
                td('Tables', h('span', { class: 'mono' }, a.tables.join(', '))),
                td('Last', fmtTime(a.last)),
              ),
            ),
          ),
        )
      : h('p', { class: 'empty panel' }, 'Nobody wrote in this window.'),
  );
}

// ---- row history --------------------------------------------------------------------------------------

/** `id=42` or `a=1, b=2` or a JSON object → key object. */
function parseKey(text) {
  const t = text.trim();
  if (!t) return null;
  if (t.startsWith('{')) return JSON.parse(t);
  const key = {};
  for (const part of t.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error('key: write col=value (or a JSON object)');
    key[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return key;
}

export async function viewHistory(ctx) {
  const table = ctx.params.get('table') || '';
  const keyParam = ctx.params.get('key') || '';
  let keyShown = keyParam;
  try {
    if (keyParam.startsWith('{')) keyShown = keyText(JSON.parse(keyParam));
  } catch {
    /* shown as typed */
  }
  const form = filterForm(
    [
      ['table', 'Table', { placeholder: 'public.users', size: 18 }],
      ['key', 'Row key', { placeholder: 'id=42', size: 18 }],
    ],
    new URLSearchParams({ table, key: keyShown }),
    (p) => {
      try {
        const key = parseKey(p.get('key') || '');
        const q = new URLSearchParams({ table: p.get('table') || '' });
        if (key) q.set('key', JSON.stringify(key));
        ctx.navigate(`#/history?${q}`);
      } catch (e) {
        ctx.main.append(h('p', { class: 'panel error' }, e.message));
      }
    },
    'Show history',
  );
  const nodes = [h('h1', {}, 'Row history'), form];
  if (table && keyParam) {
    const q = new URLSearchParams({ table, key: keyParam.startsWith('{') ? keyParam : JSON.stringify(parseKey(keyParam)), limit: '100' });
    if (ctx.params.get('source')) q.set('source', ctx.params.get('source'));
    try {
      const r = await ctx.api(`/api/v1/history?${q}`);
      const who = [...new Set(r.changes.map((ev) => actorName(ev.actor)))];
      nodes.push(
        h('p', {}, h('b', {}, `${table} ${keyText(r.key)}`), ` — ${r.changes.length}${r.next ? '+' : ''} change(s), newest first, by ${who.join(', ')}`),
        changesTable(r.changes, 'history').table,
      );
    } catch (e) {
      if (e.status === 401) throw e;
      nodes.push(h('p', { class: 'panel error' }, e.message));
    }
  } else {
    nodes.push(h('p', { class: 'muted' }, 'Name a table and a row key, or click a row key in the live feed.'));
  }
  ctx.main.replaceChildren(...nodes);
}

// ---- undo preview -------------------------------------------------------------------------------------

export async function viewUndo(ctx) {
  const p = ctx.params;
  const fields = [
    ['actor', 'Actor', { placeholder: 'deploy-bot' }],
    ['since', 'Since', { placeholder: '1h', size: 8 }],
    ['table', 'Table', { placeholder: 'schema.table' }],
    ['tx', 'Transaction', { placeholder: 'xid or position' }],
    ['source', 'Source', { size: 10 }],
  ];
  const form = filterForm(fields, p, (q) => ctx.navigate(`#/undo?${q}`), 'Preview');
  const nodes = [h('h1', {}, 'Undo preview'), form];
  const q = new URLSearchParams();
  for (const [k, v] of p) if (v) q.append(k, v);
  if ([...q.keys()].some((k) => ['actor', 'tx', 'change', 'agentRun', 'table'].includes(k))) {
    nodes.push(h('p', { class: 'muted', id: 'undo-loading' }, 'Planning against the database…'));
    ctx.main.replaceChildren(...nodes);
    nodes.pop();
    try {
      const plan = await ctx.api(`/api/v1/undo/preview?${q}`);
      nodes.push(undoResult(plan));
    } catch (e) {
      if (e.status === 401) throw e;
      nodes.push(h('p', { class: 'panel error', id: 'undo-error' }, e.message));
    }
  } else {
    nodes.push(h('p', { class: 'muted' }, 'Select changes to revert: by actor and time, table, or transaction. Nothing is applied from here.'));
  }
  ctx.main.replaceChildren(...nodes);
}

function undoResult(plan) {
  const blocked = plan.conflicts.length > 0 || plan.refusals.length > 0;
  const out = [
    h(
      'div',
      { class: `panel ${blocked ? 'conflict' : 'ok-box'}`, id: 'undo-summary' },
      h('b', {}, blocked ? `Blocked: ${plan.conflicts.length} conflict(s), ${plan.refusals.length} refused change(s)` : 'Ready to apply'),
      h('p', {}, `${plan.changes} change(s) on ${plan.source} (${plan.database}) → ${plan.steps.length} guarded statement(s), newest first, in one transaction.`),
    ),
  ];
  if (plan.conflicts.length) {
    out.push(
      h('h2', {}, 'Conflicts: rows that changed since'),
      h(
        'table',
        { id: 'conflicts' },
        h('thead', {}, h('tr', {}, ['Table', 'Row', 'Found', 'Changed since by'].map((t) => h('th', {}, t)))),
        h(
          'tbody',
          {},
          plan.conflicts.map((c) =>
            h(
              'tr',
              { class: 'conflict' },
              td('Table', h('span', { class: 'mono' }, c.table)),
              td('Row', h('span', { class: 'mono' }, keyText(c.key))),
              td('Found', c.reason),
              td('Changed since by', c.since.length ? c.since.map((s) => h('div', {}, h('b', {}, s.actor), ` ${s.op} at ${fmtTime(s.time)}`)) : '—'),
            ),
          ),
        ),
      ),
    );
  }
  if (plan.refusals.length) {
    out.push(h('h2', {}, 'Refused'), h('ul', {}, plan.refusals.map((r) => h('li', {}, `${r.table} ${keyText(r.key)} (${r.op}): ${r.reason}`))));
  }
  out.push(
    h('h2', {}, 'Statements'),
    h(
      'table',
      { id: 'steps' },
      h('thead', {}, h('tr', {}, ['#', 'Action', 'Table', 'Row'].map((t) => h('th', {}, t)))),
      h(
        'tbody',
        {},
        plan.steps.map((s) =>
          h(
            'tr',
            {},
            td('#', s.n),
            td('Action', s.kind === 'update' ? `set back ${s.set.join(', ')}` : s.kind === 'insert' ? 're-insert deleted row' : s.kind === 'delete' ? 'delete inserted row' : 'nothing'),
            td('Table', h('span', { class: 'mono' }, s.table)),
            td('Row', h('span', { class: 'mono' }, keyText(s.key))),
          ),
        ),
      ),
    ),
    h('h2', {}, 'Apply it from the command line'),
    h(
      'div',
      { class: 'panel' },
      h('div', { class: 'cmd' }, h('pre', { id: 'apply-command' }, plan.command), copyButton(plan.command)),
      blocked ? h('p', { class: 'muted' }, 'With conflicts it refuses; add --skip-conflicts to revert the rest.') : null,
    ),
  );
  return h('div', { id: 'undo-result' }, out);
}
