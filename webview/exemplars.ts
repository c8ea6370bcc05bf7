// The few-shot exemplar editor webview: one card per line of P with question / rationale / answer fields, the
// task's checks and the prompt length. Every change is sent as an edit of one field; the document is the truth,
// and this view is redrawn from it (so undo, redo and edits made in the text editor show up here).
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-textarea/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { ExemplarField, ExemplarsData, ExemplarView, FromExemplars, ToExemplars } from '../src/protocol';
import { $, clear, h } from './dom';
import { channel } from './vscodeApi';

const ch = channel<ToExemplars, FromExemplars>((m) => m.type === 'data' && render(m.data));
const app = $('#app');
const head = h('header', {});
const cards = h('div', { class: 'cards' });
app.append(head, cards);
ch.post({ type: 'ready' });

function render(d: ExemplarsData) {
  const errors = d.exemplars.filter((e) => e.errors.length).length;
  const warnings = d.exemplars.filter((e) => e.warnings.length).length;
  const add = h('vscode-button', { id: 'add' }, 'Add exemplar');
  add.addEventListener('click', () => ch.post({ type: 'add' }));
  clear(head,
    h('h2', {}, `P · ${d.exemplars.length} exemplar(s) · task ${d.task}`),
    h('p', { class: 'muted', 'data-testid': 'summary' }, `${errors} with errors, ${warnings} with warnings · model block size ${d.blockSize} characters`),
    add);
  // Keep the field being typed in: replacing it would lose the cursor, and its value is already what the doc says.
  const active = document.activeElement?.closest('[data-line]');
  const focusKey = active ? `${active.getAttribute('data-line')}/${document.activeElement?.getAttribute('data-field')}` : '';
  clear(cards, ...d.exemplars.map((e) => card(e)));
  if (focusKey) (cards.querySelector(`[data-line="${focusKey.split('/')[0]}"] [data-field="${focusKey.split('/')[1]}"]`) as HTMLElement | null)?.focus();
}

function card(e: ExemplarView): HTMLElement {
  const field = (name: ExemplarField, value: string, multi: boolean) => {
    const el = multi ? h('vscode-textarea', { 'data-field': name, rows: '2', monospace: '' }) : h('vscode-textfield', { 'data-field': name });
    el.value = value;
    // `change` (on blur or Enter) rather than every keystroke: one undo step per field edit
    el.addEventListener('change', () => el.value !== value && ch.post({ type: 'edit', line: e.line, field: name, value: el.value }));
    return h('label', { class: 'field' }, h('span', {}, name), el);
  };
  const del = h('vscode-button', { secondary: '', 'data-action': 'delete' }, 'Delete');
  del.addEventListener('click', () => ch.post({ type: 'delete', line: e.line }));
  return h('section', { class: `card${e.errors.length ? ' has-errors' : e.warnings.length ? ' has-warnings' : ''}`, 'data-line': String(e.line) },
    h('div', { class: 'card-head' }, h('b', {}, `line ${e.line + 1}`), ` ${e.id}`, h('span', { class: 'muted' }, ` · ${e.length} characters`), del),
    field('question', e.question, false),
    field('rationale', e.rationale, true),
    field('answer', e.answer, false),
    ...e.errors.map((m) => h('p', { class: 'error' }, '✗ ', m)),
    ...e.warnings.map((m) => h('p', { class: 'warning' }, '⚠ ', m)));
}
