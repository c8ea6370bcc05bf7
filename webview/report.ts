// The iteration report webview: tabs of rationales, rationalizations and mismatches (a virtualised list with
// search, filters and sort), a detail pane to annotate one row and compare it across iterations, and the charts.
import '@vscode-elements/elements/dist/vscode-tabs/index.js';
import '@vscode-elements/elements/dist/vscode-tab-header/index.js';
import '@vscode-elements/elements/dist/vscode-tab-panel/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-textarea/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import type { FromReport, QuestionHistory, ReportData, ReportRow, ToReport } from '../src/protocol';
import { addLossPoint, drawCharts } from './charts';
import { $, clear, h } from './dom';
import { VirtualList } from './vlist';
import { channel } from './vscodeApi';

// The 'no filter' value of a select: an empty value would make the element fall back to the option's label.
const ANY = '*';

type Tab = 'direct' | 'rationalized' | 'mismatch' | 'chart';
const TABS: { id: Tab; label: string }[] = [
  { id: 'direct', label: 'Rationales' },
  { id: 'rationalized', label: 'Rationalizations' },
  { id: 'mismatch', label: 'Mismatches' },
  { id: 'chart', label: 'Charts' },
];

const view = {
  data: undefined as ReportData | undefined,
  tab: 'direct' as Tab,
  search: '',
  group: ANY,
  change: ANY,
  marks: ANY,
  sort: 'line',
  selected: undefined as string | undefined,
  history: undefined as QuestionHistory | undefined,
  shown: [] as ReportRow[],
};

const ch = channel<ToReport, FromReport>(onMessage);
const select = (label: string, id: string, options: [string, string][]) =>
  h('label', { class: 'field' }, label, h('vscode-single-select', { id }, ...options.map(([v, t]) => h('vscode-option', { value: v }, t))));

const app = $('#app');
app.append(
  h('header', {},
    h('div', { class: 'title' }, h('h2', { id: 'title' }, 'STaR report'), select('Iteration', 'iteration', [])),
    h('div', { class: 'counts', id: 'counts' })),
  h('vscode-tabs', { id: 'tabs', 'selected-index': '0' },
    ...TABS.flatMap((t) => [h('vscode-tab-header', { slot: 'header', 'data-tab': t.id }, t.label), h('vscode-tab-panel', { 'data-panel': t.id })])),
  h('div', { class: 'toolbar', id: 'toolbar' },
    h('vscode-textfield', { id: 'search', placeholder: 'Search question, rationale, answer, id' }),
    select('Group', 'group', [[ANY, 'all groups']]),
    select('Change', 'change', [[ANY, 'any'], ['newly-solved', 'newly solved'], ['newly-lost', 'newly lost'], ['still-failed', 'still failed']]),
    select('Marks', 'marks', [[ANY, 'any'], ['annotated', 'annotated'], ['disagree', 'verdict disagrees'], ['hintLeak', 'hint leaks']]),
    select('Sort', 'sort', [['line', 'dataset order'], ['group', 'group'], ['length', 'rationale length'], ['answer', 'answer']]),
    h('span', { id: 'shown', class: 'muted' })),
  h('main', { id: 'main' }, h('div', { id: 'list' }), h('aside', { id: 'detail' }, h('p', { class: 'muted' }, 'Select a row.'))),
);
// (vscode-tabs gives its headers and panels ids of its own: they are found by data attributes)
const chartPanel = $('[data-panel="chart"]');
chartPanel.append(h('div', { class: 'charts' },
  h('div', {}, h('canvas', { id: 'chart-iter' })), h('div', {}, h('canvas', { id: 'chart-groups' })),
  h('div', { class: 'wide' }, h('canvas', { id: 'chart-loss' }))));

const list = new VirtualList<ReportRow>($('#list'), 28, renderRow);

$('#tabs').addEventListener('vsc-tabs-select', (e) => {
  view.tab = TABS[(e as CustomEvent<{ selectedIndex: number }>).detail.selectedIndex].id;
  apply();
});
for (const [id, key] of [['group', 'group'], ['change', 'change'], ['marks', 'marks'], ['sort', 'sort']] as const)
  $(`#${id}`).addEventListener('change', (e) => ((view[key] = (e.target as HTMLSelectElement).value), apply()));
$('#search').addEventListener('input', (e) => ((view.search = (e.target as HTMLInputElement).value.toLowerCase()), apply()));
$('#iteration').addEventListener('change', (e) => ch.post({ type: 'selectIteration', iteration: Number((e.target as HTMLSelectElement).value) }));
ch.post({ type: 'ready' });

function onMessage(m: ToReport) {
  if (m.type === 'data') {
    view.data = m.data;
    if (!m.data.rows.some((r) => r.id === view.selected)) view.selected = undefined;
    header();
    apply();
    if (view.selected) ch.post({ type: 'history', id: view.selected });
    else detail();
  } else if (m.type === 'row') {
    const rows = view.data?.rows;
    const i = rows?.findIndex((r) => r.id === m.row.id) ?? -1;
    if (rows && i >= 0) rows[i] = m.row;
    apply();
    detail();
  } else if (m.type === 'history') {
    view.history = m.history;
    detail();
  } else if (m.type === 'loss') {
    addLossPoint(m.iteration, m.step, m.loss);
  } else if (m.type === 'focus') {
    const r = view.data?.rows.find((x) => x.id === m.id);
    if (r) {
      view.tab = r.stage === 'direct' ? 'direct' : r.stage === 'rationalized' ? 'rationalized' : 'mismatch';
      $('#tabs').setAttribute('selected-index', String(TABS.findIndex((t) => t.id === view.tab)));
      choose(r.id);
      apply();
    }
  }
}

function header() {
  const d = view.data!;
  $('#title').textContent = `${d.project} · run ${d.runId} · iteration ${d.iteration}`;
  const it = $('#iteration');
  clear(it, ...d.iterations.filter((s) => s.iteration > 0).map((s) => h('vscode-option', { value: String(s.iteration), ...(s.iteration === d.iteration ? { selected: '' } : {}) }, `Iteration ${s.iteration}`)));
  (it as HTMLSelectElement).value = String(d.iteration);
  const g = $('#group');
  clear(g, h('vscode-option', { value: ANY }, 'all groups'), ...d.groups.map((x) => h('vscode-option', { value: x }, `group ${x}`)));
  const s = d.iterations.find((x) => x.iteration === d.iteration);
  const count = (id: string, label: string, n: string | number) => h('span', { class: 'count' }, h('b', { 'data-testid': `count-${id}` }, String(n)), ` ${label}`);
  const rows = d.rows;
  clear($('#counts'),
    count('direct', 'direct', rows.filter((r) => r.stage === 'direct').length),
    count('rationalized', 'rationalized', rows.filter((r) => r.stage === 'rationalized').length),
    count('failed', 'failed', rows.filter((r) => r.stage === 'failed').length),
    count('hintLeaks', 'hint leaks', rows.filter((r) => r.hintLeak).length),
    s ? count('eval', `held-out correct of ${s.evalTotal} (${(100 * s.evalAccuracy).toFixed(1)}%)`, s.evalCorrect) : null);
  for (const t of TABS.slice(0, 3)) $(`[data-tab="${t.id}"]`).textContent = `${t.label} (${rows.filter((r) => inTab(r, t.id)).length})`;
  drawCharts($('#chart-iter') as HTMLCanvasElement, $('#chart-groups') as HTMLCanvasElement, $('#chart-loss') as HTMLCanvasElement, d);
}

function inTab(r: ReportRow, tab: Tab): boolean {
  if (tab === 'direct') return r.stage === 'direct';
  if (tab === 'rationalized') return r.stage === 'rationalized';
  return r.stage === 'failed';
}

function apply() {
  const d = view.data;
  const isChart = view.tab === 'chart';
  $('#main').hidden = isChart;
  $('#toolbar').hidden = isChart;
  if (!d || isChart) return;
  const q = view.search;
  const rows = d.rows.filter((r) =>
    inTab(r, view.tab) &&
    (view.group === ANY || r.group === view.group) &&
    (view.change === ANY || r.change === view.change) &&
    (view.marks === ANY || (view.marks === 'annotated' ? !!(r.verdict || r.note || r.editedRationale) : view.marks === 'disagree' ? r.disagrees : r.hintLeak)) &&
    (!q || [r.question, r.rationale, r.answer ?? '', r.id, r.editedRationale ?? '', r.note ?? ''].some((s) => s.toLowerCase().includes(q))));
  const by: Record<string, (a: ReportRow, b: ReportRow) => number> = {
    line: (a, b) => (a.line ?? 0) - (b.line ?? 0),
    group: (a, b) => a.group.localeCompare(b.group, undefined, { numeric: true }) || (a.line ?? 0) - (b.line ?? 0),
    length: (a, b) => b.rationale.length - a.rationale.length,
    answer: (a, b) => (a.answer ?? '').localeCompare(b.answer ?? '', undefined, { numeric: true }),
  };
  rows.sort(by[view.sort]);
  view.shown = rows;
  $('#shown').textContent = `${rows.length} row(s)`;
  list.setItems(rows);
}

const CHANGE: Record<string, string> = { 'newly-solved': '▲ newly solved', 'newly-lost': '▼ newly lost' };

function renderRow(r: ReportRow): HTMLElement {
  const row = h('div', { class: `row${r.id === view.selected ? ' selected' : ''}`, 'data-id': r.id, role: 'row', tabindex: '-1' },
    h('span', { class: 'line' }, r.line ? `${r.line}` : ''),
    h('span', { class: 'q' }, r.question),
    h('span', { class: `ans ${r.correct ? 'ok' : 'bad'}` }, `${r.answer ?? '∅'}`, r.correct ? '' : ` ≠ ${r.gold}`),
    h('span', { class: 'rat' }, r.editedRationale ?? r.rationale),
    h('span', { class: 'flags' },
      r.hintLeak ? h('span', { class: 'flag leak', title: 'the rationalization refers to the hint' }, 'hint leak') : null,
      CHANGE[r.change] ? h('span', { class: `flag ${r.change}` }, CHANGE[r.change]) : null,
      r.verdict ? h('span', { class: `flag ${r.verdict}` }, r.verdict === 'accept' ? '✓ accepted' : '✗ rejected') : null,
      r.disagrees ? h('span', { class: 'flag disagree' }, 'disagrees') : null,
      r.note ? h('span', { class: 'flag', title: r.note }, 'note') : null,
      r.promoted ? h('span', { class: 'flag promoted' }, '★ in P') : null));
  row.addEventListener('click', () => choose(r.id));
  return row;
}

function choose(id: string) {
  view.selected = id;
  view.history = undefined;
  list.refresh();
  const i = view.shown.findIndex((r) => r.id === id);
  if (i >= 0) list.scrollTo(i);
  detail();
  ch.post({ type: 'history', id });
}

function detail() {
  const pane = $('#detail');
  const r = view.data?.rows.find((x) => x.id === view.selected);
  if (!r) return clear(pane, h('p', { class: 'muted' }, 'Select a row to see its rationale, annotate it and compare it across iterations.'));
  const it = view.data!.iteration;
  const button = (label: string, id: string, onClick: () => void, secondary = true) => {
    const b = h('vscode-button', { id, ...(secondary ? { secondary: '' } : {}) }, label);
    b.addEventListener('click', onClick);
    return b;
  };
  const annotate = (patch: { verdict?: 'accept' | 'reject'; rationale?: string; note?: string }) => ch.post({ type: 'annotate', id: r.id, patch });
  const edit = h('vscode-textarea', { id: 'edit-rationale', rows: '3', monospace: '' });
  edit.value = r.editedRationale ?? r.rationale;
  const note = h('vscode-textfield', { id: 'note', placeholder: 'A note on this rationale' });
  note.value = r.note ?? '';
  clear(pane,
    h('h3', {}, r.question, ' ', h('span', { class: 'muted' }, `(${r.id}${r.line ? `, line ${r.line}` : ''}, group ${r.group})`)),
    h('p', {}, h('span', { class: `stage ${r.stage}` }, r.stage), r.hintLeak ? h('span', { class: 'flag leak' }, 'hint leak') : null,
      ` model answer `, h('b', { class: r.correct ? 'ok' : 'bad', 'data-testid': 'answer' }, r.answer ?? '∅'), ' · gold ', h('b', {}, r.gold),
      r.directAnswer !== null && r.stage !== 'direct' ? ` · first attempt answered ${r.directAnswer}` : ''),
    h('pre', { class: 'rationale', 'data-testid': 'rationale' }, r.rationale),
    r.editedRationale !== null ? h('p', {}, h('b', {}, 'Edited: '), h('code', {}, r.editedRationale)) : null,
    h('div', { class: 'actions' },
      button(r.verdict === 'accept' ? '✓ Accepted' : 'Accept', 'accept', () => annotate({ verdict: 'accept' }), r.verdict !== 'accept'),
      button(r.verdict === 'reject' ? '✗ Rejected' : 'Reject', 'reject', () => annotate({ verdict: 'reject' }), r.verdict !== 'reject'),
      button(r.promoted ? '★ Promoted' : 'Promote to P', 'promote', () => ch.post({ type: 'promote', id: r.id })),
      r.line ? button(`Go to line ${r.line}`, 'reveal', () => ch.post({ type: 'reveal', id: r.id })) : null),
    h('div', { class: 'edit' }, edit, button('Save edited rationale', 'save-edit', () => annotate({ rationale: edit.value }))),
    h('div', { class: 'edit' }, note, button('Save note', 'save-note', () => annotate({ note: note.value }))),
    compare(it),
    history());
}

/** The question in the previous iteration and in this one, side by side. */
function compare(it: number): HTMLElement | null {
  const hist = view.history;
  if (!hist || hist.id !== view.selected) return null;
  const now = hist.entries.find((e) => e.iteration === it);
  const before = hist.entries.find((e) => e.iteration === it - 1);
  if (!now || !before) return h('p', { class: 'muted' }, 'No earlier iteration to compare with.');
  const side = (label: string, e: typeof now) =>
    h('div', { class: 'side' }, h('h4', {}, label, ' ', h('span', { class: `stage ${e.stage}` }, e.stage)), h('p', {}, 'answer ', h('b', {}, e.answer ?? '∅')), h('pre', { class: 'rationale' }, e.rationale));
  return h('section', { class: 'compare', 'data-testid': 'compare' }, side(`Iteration ${before.iteration}`, before), side(`Iteration ${now.iteration}`, now));
}

function history(): HTMLElement | null {
  const hist = view.history;
  if (!hist || hist.id !== view.selected) return null;
  const first = hist.firstSolved ? `first solved in iteration ${hist.firstSolved.iteration} (${hist.firstSolved.stage})` : 'never solved';
  const lost = hist.lostAgain.length ? `; lost again in iteration ${hist.lostAgain.join(', ')}` : '';
  return h('section', { class: 'history', 'data-testid': 'history' },
    h('h4', {}, 'History: ', first + lost),
    h('table', {}, h('tr', {}, h('th', {}, 'iteration'), h('th', {}, 'stage'), h('th', {}, 'answer')),
      ...hist.entries.map((e) => h('tr', {}, h('td', {}, String(e.iteration)), h('td', {}, e.stage + (e.hintLeak ? ' (hint leak)' : '')), h('td', {}, e.answer ?? '∅')))));
}
