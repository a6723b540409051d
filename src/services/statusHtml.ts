// The status report as a small self-contained HTML page for people: every value redacted and
// escaped, no scripts, refreshed every minute.
import { BACKFILL_RUN_STATUSES, LANDING_STATES } from '../azure/catalog';
import { redactSecrets } from '../domain/redact';
import type { StatusReport } from './status';
import type { ConnectionSummary } from './statusConfig';
import type { RecentBackfill, Scanned, Section, TokenCounts } from './statusCounts';
import type { Heatmap } from './statusHeatmap';

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Redacts, then escapes for HTML text and attribute values. */
export function escapeHtml(value: string | number | boolean | undefined): string {
  const text = value === undefined ? '' : String(value);
  return redactSecrets(text).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

const h = escapeHtml;

/** Escapes without redacting: for the fixes, which hold placeholders redaction would mangle. */
function escapeOnly(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

function atLeast(s: Scanned, n: number): string {
  return s.capped ? `at least ${h(n)}` : h(n);
}

function table(headers: string[], rows: string[][]): string {
  if (rows.length === 0) return '<p class="muted">none</p>';
  const head = headers.map((x) => `<th>${h(x)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** Label/value rows; values are already escaped HTML. */
function facts(pairs: [string, string][]): string {
  return `<table class="facts"><tbody>${pairs
    .map(([k, v]) => `<tr><th>${h(k)}</th><td>${v}</td></tr>`)
    .join('')}</tbody></table>`;
}

function badge(state: string): string {
  const kind = state === 'ok' ? 'good' : state === 'throttled' || state === 'degraded' ? 'warn' : 'bad';
  return `<span class="badge ${kind}">${h(state)}</span>`;
}

function scannedNote(s: Scanned): string {
  if (s.tableMissing) return '<p class="muted">table not created yet</p>';
  return s.capped ? `<p class="muted">stopped after ${h(s.rowsRead)} rows: counts are lower bounds</p>` : '';
}

function sectionHtml<T>(title: string, s: Section<T> | undefined, body: (v: Scanned & T) => string): string {
  if (!s) return `<h3>${h(title)}</h3><p class="muted">catalog unreachable</p>`;
  if (!s.ok) return `<h3>${h(title)}</h3><p class="bad">${h(s.error)}</p>`;
  return `<h3>${h(title)}</h3>${body(s)}${scannedNote(s)}`;
}

function connectionHtml(c: ConnectionSummary): string {
  const parts = [`${h(c.setting)} (${h(c.auth)}${c.userAssignedIdentity ? ', user-assigned' : ''})`];
  if (c.tableEndpoint) parts.push(`tables ${h(c.tableEndpoint)}`);
  if (c.blobEndpoint) parts.push(`blobs ${h(c.blobEndpoint)}`);
  return parts.join('<br>');
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}h3{font-size:1rem}
table{border-collapse:collapse;margin:.5rem 0}th,td{text-align:left;padding:.25rem .6rem;border-bottom:1px solid #eee;vertical-align:top}
.facts th{font-weight:600;color:#444}.muted{color:#777}.bad{color:#a4262c}
.badge{padding:.05rem .45rem;border-radius:.6rem;font-size:.85em;font-weight:600}
.problem{margin:.4rem 0}.fix code{background:#f3f2f1;padding:0 .2rem;word-break:break-all}
.heatmap td.cell{width:2.2rem;text-align:center;font-weight:600;border:1px solid #fff;padding:.15rem}
.heatmap tr.scope th{background:#f3f2f1;font-weight:400}.cell.none{background:#fafafa}
.s-Final{background:#107c10;color:#fff}.s-Open{background:#9fd89f}.s-Stale{background:#ffaa44}
.s-Missing{background:#d13438;color:#fff}.s-Failed{background:#750b1c;color:#fff}.s-NoData{background:#c8c6c4}
.legend .cell{display:inline-block;width:1.3rem;text-align:center;font-weight:600}
.bar{display:inline-block;height:.7rem;vertical-align:middle;border-radius:.2rem}.bar.good{background:#107c10}
.bar.warn{background:#ffaa44}.bar.bad{background:#d13438}
.chip{display:inline-block;padding:0 .35rem;margin:.1rem;border-radius:.5rem;font-size:.85em;background:#edebe9}
.b-landed{background:#dff6dd}.b-failed,.b-timedOut{background:#fde7e9;color:#a4262c}.b-dataNotAvailable{background:#c8c6c4}
.good{background:#dff6dd;color:#107c10}.warn{background:#fff4ce;color:#8a6100}.badge.bad{background:#fde7e9}
code{font-size:.9em}`;

function problemsHtml(report: StatusReport): string {
  if (report.problems.length === 0) return '<p class="muted" id="problems">No problems.</p>';
  const total = Object.values(report.problemTotals).reduce((a, b) => a + b, 0);
  const items = report.problems
    .map(
      (p) =>
        `<li class="problem" data-kind="${h(p.kind)}"><strong>${h(p.kind)}</strong> <code>${h(p.subject)}</code>` +
        `<br>${h(p.message)}<br><span class="fix">Fix: <code>${escapeOnly(p.fix)}</code></span></li>`,
    )
    .join('\n');
  const more =
    total > report.problems.length
      ? `<p class="muted">and ${h(total - report.problems.length)} more</p>`
      : '';
  return `<h2>Problems (${h(total)})</h2><ul id="problems">\n${items}\n</ul>${more}`;
}

/** `2026-12-04 15:43 UTC (3 h ago)`: the instant and its distance from `now`. */
export function readableTime(iso: string | undefined, now: Date): string {
  if (!iso) return '';
  const ms = Date.parse(/(?:Z|[+-]\d{2}:\d{2})$/i.test(iso) ? iso : `${iso}Z`);
  if (Number.isNaN(ms)) return iso;
  const text = `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const diff = ms - now.getTime();
  const abs = Math.abs(diff);
  const span =
    abs < 60_000
      ? 'now'
      : abs < 3_600_000
        ? `${Math.round(abs / 60_000)} min`
        : abs < 172_800_000
          ? `${Math.round(abs / 3_600_000)} h`
          : `${Math.round(abs / 86_400_000)} d`;
  return span === 'now' ? `${text} (now)` : `${text} (${diff < 0 ? `${span} ago` : `in ${span}`})`;
}

const STATE_LETTER: Record<string, string> = {
  Final: 'F',
  Open: 'O',
  Stale: 'S',
  Missing: 'M',
  Failed: 'X',
  NoData: '0',
};

function heatmapHtml(section: Section<Heatmap> | undefined): string {
  if (!section) return '<p class="muted">catalog unreachable</p>';
  if (!section.ok) return `<p class="bad">${h(section.error)}</p>`;
  if (section.tableMissing || section.rows.length === 0) {
    return '<p class="muted" id="heatmap">no ledger cells yet: they appear with the first landing or the first daily sweep</p>';
  }
  const head = section.months.map((m) => `<th>${h(m)}</th>`).join('');
  const body: string[] = [];
  let scope: string | undefined;
  for (const row of section.rows) {
    if (row.scope !== scope) {
      scope = row.scope;
      body.push(
        `<tr class="scope"><th colspan="${section.months.length + 1}"><code>${h(scope)}</code></th></tr>`,
      );
    }
    const cells = section.months.map((m) => {
      const cell = row.cells[m];
      if (!cell) return '<td class="cell none"></td>';
      // A manifest without a row count (dataRowCount null) is "rows unknown", never shown as 0.
      const unknownRows = cell.runId !== undefined && cell.rows === undefined;
      const run = cell.runId
        ? ` · run ${cell.runId} (${unknownRows ? 'rows unknown' : `${cell.rows} rows`}) submitted ${cell.runTime ?? ''}`
        : '';
      const title = `${m} ${cell.state}: ${cell.reason}${run}${cell.healing ? ` · ${cell.healing}` : ''}`;
      const rows = cell.runId ? ` data-rows="${unknownRows ? 'unknown' : h(cell.rows)}"` : '';
      return `<td class="cell s-${h(cell.state)}" data-month="${h(m)}" data-state="${h(cell.state)}"${rows} title="${h(title)}">${h(STATE_LETTER[cell.state] ?? '?')}${unknownRows ? '<sup>?</sup>' : ''}${cell.healing ? '<sup>h</sup>' : ''}</td>`;
    });
    body.push(`<tr data-export="${h(row.exportName)}"><th>${h(row.exportName)}</th>${cells.join('')}</tr>`);
  }
  const legend = Object.entries(STATE_LETTER)
    .map(([state, letter]) => `<span class="cell s-${h(state)}">${h(letter)}</span> ${h(state)}`)
    .join(' ');
  const next = section.continuationToken
    ? `<p><a href="?format=html&amp;ledgerPage=${encodeURIComponent(section.continuationToken)}">next exports →</a> <span class="muted">(the page never repeats a function key: one given in the address goes on this link again)</span></p>`
    : '';
  return `<p class="legend">${legend} · <sup>?</sup> rows unknown (the manifest gave no count) · <sup>h</sup> healing tried · hover a cell for its run</p>
<table class="heatmap" id="heatmap"><thead><tr><th>export</th>${head}</tr></thead><tbody>
${body.join('\n')}
</tbody></table>${next}`;
}

function tokenTimeline(tokens: TokenCounts['soonest'], now: Date): string {
  if (tokens.length === 0) return '';
  const rows = tokens.map((t) => {
    const width = Math.max(2, Math.min(100, (Math.max(t.daysLeft, 0) / 90) * 100));
    const kind = t.daysLeft < 0 ? 'bad' : t.daysLeft <= 7 ? 'bad' : t.daysLeft <= 30 ? 'warn' : 'good';
    const served = t.exports?.length
      ? `${h(t.exports.join(', '))}${(t.exportCount ?? 0) > t.exports.length ? ` and ${h((t.exportCount ?? 0) - t.exports.length)} more` : ''}`
      : '<span class="muted">no export delivers with it</span>';
    return [
      `${h(t.storageAccount)}/${h(t.tokenId)}`,
      `<span class="bar ${kind}" style="width:${width.toFixed(0)}%"></span> ${h(t.daysLeft)} d`,
      h(readableTime(t.expiresOn, now)),
      served,
    ];
  });
  return `<div id="tokens">${table(['token', 'days left (bar: 90 days)', 'expires', 'exports it serves'], rows)}</div>`;
}

function recentBackfills(recent: RecentBackfill[], now: Date): string {
  if (recent.length === 0) return '';
  const rows = recent.map((b) => [
    `<code>${h(b.backfillId)}</code><br><span class="muted">${h(b.scope)}</span>`,
    h(readableTime(b.updatedAt, now)),
    b.months
      .map(
        (m) =>
          `<span class="chip b-${h(m.status)}" title="${h(`${m.dataset} ${m.month}: ${m.status}${m.attempts !== undefined ? `, ${m.attempts} attempt(s)` : ''}`)}">${h(m.month)} ${h(m.status)}</span>`,
      )
      .join(' '),
  ]);
  return `<div id="backfills">${table(['backfill', 'updated', 'months'], rows)}</div>`;
}

function scopesHtml(scopes: StatusReport['scopes']): string {
  return table(
    ['scope', 'kind', 'access', 'detail', 'checked'],
    scopes.map((s) => [
      `<code>${h(s.scope)}</code>`,
      h(s.kind ?? ''),
      badge(s.access),
      [
        s.access === 'ok' ? `${h(s.exportsInCostManagement ?? 0)} export(s) in Cost Management` : '',
        s.roleHint ? `<strong>${h(s.roleHint)}</strong>` : '',
        s.retryAfterSeconds !== undefined ? `retry after ${h(s.retryAfterSeconds)} s` : '',
        s.message ? `<span class="muted">${h(s.message)}</span>` : '',
      ]
        .filter(Boolean)
        .join('<br>'),
      `${h(s.checkedAt)}${s.cached ? ' <span class="muted">(cached)</span>' : ''}`,
    ]),
  );
}

/** Where export sync's scopes come from: the table below is MANAGED_SCOPES only; the fleet's
 * customers (often thousands) are synced too, and are not checked one by one on this page. */
function scopeSourcesHtml(report: StatusReport): string {
  const managed = `${h(report.scopes.length)} scope(s) in MANAGED_SCOPES, checked below`;
  const fleet = report.fleet;
  if (!fleet || 'error' in fleet || fleet.assignments === 0) return `<p class="muted">${managed}.</p>`;
  return (
    `<p class="muted">${managed}. Export sync also lists the member scopes of the fleet's ` +
    `${h(fleet.assignments)} assignment(s); their access shows in the fleet's outcomes (problems above).</p>`
  );
}

function exportsHtml(counts: StatusReport['counts']): string {
  return sectionHtml(
    'Exports',
    counts?.exports,
    (e) =>
      facts([
        ['registered', atLeast(e, e.registered)],
        ['delivered with a SAS token', atLeast(e, e.sasDelivered)],
        ['vanished from Cost Management', atLeast(e, e.vanished)],
      ]) +
      (e.vanishedExports.length
        ? table(
            ['vanished export', 'scope', 'missing since'],
            e.vanishedExports.map((v) => [
              h(v.exportName),
              `<code>${h(v.scope)}</code>`,
              h(v.missingSince ?? ''),
            ]),
          )
        : ''),
  );
}

function tokensHtml(counts: StatusReport['counts'], generated: Date): string {
  return sectionHtml(
    'SAS tokens',
    counts?.tokens,
    (t) =>
      facts([
        ['expired', atLeast(t, t.expired)],
        ['expiring within 7 days', atLeast(t, t.within7Days)],
        ['expiring within 30 days', atLeast(t, t.within30Days)],
        ['later', atLeast(t, t.later)],
        ['rotated or revoked', atLeast(t, t.retired)],
      ]) + tokenTimeline(t.soonest, generated),
  );
}

function landingsHtml(counts: StatusReport['counts']): string {
  return sectionHtml(
    'Landings',
    counts?.landings,
    (l) =>
      facts([
        [`catalogued in the last ${l.sinceDays} days`, atLeast(l, l.total)],
        ...LANDING_STATES.map((s): [string, string] => [s, atLeast(l, l.byState[s])]),
      ]) +
      table(
        ['export', 'scope', 'period', 'state', 'rows', 'bytes', 'catalogued'],
        l.recent.map((r) => [
          h(r.exportName),
          `<code>${h(r.scope)}</code>`,
          h(r.period),
          h(r.state),
          r.rowCount === undefined ? '<span class="muted">unknown</span>' : h(r.rowCount),
          h(r.totalBytes),
          h(r.catalogedAt),
        ]),
      ),
  );
}

function backfillsHtml(counts: StatusReport['counts'], generated: Date): string {
  return sectionHtml(
    'Backfills',
    counts?.backfills,
    (b) =>
      facts([
        ['backfills', atLeast(b, b.backfills)],
        ['still running', atLeast(b, b.activeBackfills)],
        ...BACKFILL_RUN_STATUSES.map((s): [string, string] => [`months ${s}`, atLeast(b, b.runsByStatus[s])]),
      ]) + recentBackfills(b.recent, generated),
  );
}

function configurationHtml(c: StatusReport['configuration']): string {
  return facts([
    ['Cost Management', `${h(c.costManagement.endpoint)} (client type ${h(c.costManagement.clientType)})`],
    ['catalog storage', connectionHtml(c.storage.catalog)],
    ['exports storage', connectionHtml(c.storage.exports)],
    ['exports container', h(c.storage.exportsContainer)],
    ['landing trigger', h(c.storage.landingTriggerSource)],
    ['SAS probe endpoint', h(c.storage.blobEndpointTemplate)],
    ['secret store', `${h(c.secrets.store)}${c.secrets.keyVaultUri ? ` ${h(c.secrets.keyVaultUri)}` : ''}`],
    ['SAS watch schedule', `<code>${h(c.schedules.sasWatch)}</code>`],
    ['out-of-band schedule', `<code>${h(c.schedules.outOfBand)}</code>`],
    ['export sync schedule', `<code>${h(c.schedules.exportSync)}</code>`],
    ['SAS alert thresholds (days)', h(c.thresholds.sasAlertDays.join(', '))],
    ['out-of-band concurrency', h(c.thresholds.outOfBandConcurrency)],
    [
      'backfill',
      `${h(c.thresholds.backfillMaxConcurrency)} months at once, ${h(c.thresholds.backfillMaxAttempts)} attempts, ` +
        `landing timeout ${h(c.thresholds.backfillLandingTimeoutMinutes)} min, poll every ${h(c.thresholds.backfillPollIntervalMinutes)} min`,
    ],
    [
      'alert mail',
      `${h(c.alerts.transport)}, ${h(c.alerts.recipients)} recipient(s)${c.alerts.sender ? `, from ${h(c.alerts.sender)}` : ''}`,
    ],
    ['durable task hub', h(c.durableTaskHub)],
  ]);
}

/** A small self-contained page of the same data. Every value is redacted and escaped; no scripts. */
export function renderStatusHtml(report: StatusReport): string {
  const generated = new Date(report.generatedAt);
  const counts = report.counts;
  const catalogLine = report.catalog.reachable
    ? `${badge('ok')}${report.catalog.tablesCreated === false ? ' <span class="muted">no tables yet</span>' : ''}`
    : `${badge('unreachable')} <span class="bad">${h(report.catalog.error ?? '')}</span>`;

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta http-equiv="refresh" content="60">
<title>Cost Export Autopilot status</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Cost Export Autopilot ${badge(report.status)}</h1>
<p class="muted">version ${h(report.version)} · generated ${h(readableTime(report.generatedAt, generated))} · refreshes every minute</p>
${problemsHtml(report)}${report.notices.map((n) => `\n<p class="muted notice">${h(n)}</p>`).join('')}
<h2>Completeness ledger</h2>
${heatmapHtml(report.heatmap)}
<h2>Managed scopes</h2>
${scopeSourcesHtml(report)}
${scopesHtml(report.scopes)}
<h2>Catalog</h2>
<p>reachable: ${catalogLine}</p>
${exportsHtml(counts)}
${tokensHtml(counts, generated)}
${landingsHtml(counts)}
${backfillsHtml(counts, generated)}
<h2>Configuration</h2>
${configurationHtml(report.configuration)}
</body>
</html>
`;
}
