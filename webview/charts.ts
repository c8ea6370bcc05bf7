// Accuracy per iteration (train and held-out), held-out accuracy per group, and each iteration's training loss by
// step (growing live while a run trains), drawn with Chart.js in the theme's chart colours.
import {
  CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, LogarithmicScale, PointElement, Title, Tooltip,
} from 'chart.js';
import type { LossCurve, ReportData } from '../src/protocol';

Chart.register(LineController, LineElement, PointElement, CategoryScale, LinearScale, LogarithmicScale, Legend, Title, Tooltip);

const charts: Chart[] = [];
const css = (name: string, fallback: string) => getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
const PALETTE = ['--vscode-charts-blue', '--vscode-charts-green', '--vscode-charts-orange', '--vscode-charts-purple', '--vscode-charts-red', '--vscode-charts-yellow'];
const colour = (i: number) => css(PALETTE[i % PALETTE.length], ['#3794ff', '#89d185', '#d18616', '#b180d7', '#f14c4c', '#cca700'][i % 6]);

let lossChart: Chart<'line', { x: number; y: number | null }[]> | undefined;
let redraw = 0;

export function drawCharts(perIteration: HTMLCanvasElement, perGroup: HTMLCanvasElement, loss: HTMLCanvasElement, d: ReportData) {
  charts.splice(0).forEach((c) => c.destroy());
  const fg = css('--vscode-foreground', '#ccc');
  Chart.defaults.color = fg;
  Chart.defaults.borderColor = css('--vscode-panel-border', '#444');
  // iterations 0..the longest run's last, so the project's other runs fit on the same axis
  const lastIteration = Math.max(...d.iterations.map((s) => s.iteration), ...d.otherRuns.flatMap((r) => r.evalAccuracy.map((e) => e.iteration)), 0);
  const labels = Array.from({ length: lastIteration + 1 }, (_, i) => String(i));
  const byIteration = <X extends { iteration: number }, T>(xs: X[], f: (x: X) => T): (T | null)[] =>
    labels.map((_, i) => { const x = xs.find((y) => y.iteration === i); return x ? f(x) : null; });
  const pct = (x: number | null) => (x === null ? null : +(100 * x).toFixed(1));
  const options = (title: string) => ({
    animation: false as const,
    responsive: true,
    maintainAspectRatio: false,
    scales: { y: { min: 0, max: 100, title: { display: true, text: '% correct' } }, x: { title: { display: true, text: 'iteration' } } },
    plugins: { title: { display: true, text: title } },
  });
  charts.push(new Chart(perIteration, {
    type: 'line',
    data: {
      labels,
      datasets: [
        { label: 'held-out (eval)', data: byIteration(d.iterations, (s) => pct(s.evalAccuracy)), borderColor: colour(0), backgroundColor: colour(0) },
        { label: 'train (direct + rationalized)', data: byIteration(d.iterations, (s) => pct(s.trainAccuracy)), borderColor: colour(1), backgroundColor: colour(1) },
        { label: 'train (direct only)', data: byIteration(d.iterations, (s) => (s.iteration === 0 || !s.train.total ? null : pct(s.train.direct / s.train.total))), borderColor: colour(2), backgroundColor: colour(2), borderDash: [4, 4] },
        // the project's other runs: held-out accuracy only, thin and dotted, named by what they do differently
        ...d.otherRuns.map((r, i) => ({
          label: `held-out, run …${r.runId.slice(-4)} (${r.differs})`, data: byIteration(r.evalAccuracy, (e) => pct(e.accuracy)),
          borderColor: colour(3 + i), backgroundColor: colour(3 + i), borderDash: [2, 3], borderWidth: 1.5,
        })),
      ],
    },
    options: options('Accuracy per iteration'),
  }));
  const groups = [...new Set(d.iterations.flatMap((s) => Object.keys(s.byGroup)))].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  charts.push(new Chart(perGroup, {
    type: 'line',
    data: {
      labels,
      datasets: groups.map((g, i) => ({ label: `group ${g}`, data: byIteration(d.iterations, (s) => pct(s.byGroup[g] ?? null)), borderColor: colour(i), backgroundColor: colour(i) })),
    },
    options: options('Held-out accuracy per group'),
  }));
  lossChart = new Chart(loss, {
    type: 'line',
    data: { datasets: d.trainLoss.map(lossDataset) },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      parsing: false,
      elements: { point: { radius: 0 } },
      scales: { x: { type: 'linear', title: { display: true, text: 'training step' } }, y: { type: 'logarithmic', title: { display: true, text: 'loss' } } },
      plugins: {
        title: { display: true, text: d.trainLoss.length ? 'Training loss (fine-tuning M0 each iteration)' : 'Training loss: none logged by this run\'s trainer' },
      },
    },
  });
  charts.push(lossChart);
  describeLoss();
}

/** What the loss chart shows, in words, for screen readers (a canvas is otherwise mute). */
function describeLoss() {
  const c = lossChart;
  if (!c) return;
  const parts = c.data.datasets.map((set) => {
    const last = set.data[set.data.length - 1];
    return `${set.label}: ${last?.x ?? 0} steps, last loss ${last?.y?.toFixed(3) ?? 'none'}`;
  });
  c.canvas.setAttribute('role', 'img');
  c.canvas.setAttribute('aria-label', `Training loss by step. ${parts.join('; ') || 'None logged.'}`);
}

const lossLabel = (iteration: number) => (iteration === 0 ? 'M0 (from P)' : `iteration ${iteration}`);

function lossDataset(c: LossCurve) {
  return {
    label: lossLabel(c.iteration),
    data: c.steps.map((x, i) => ({ x, y: c.losses[i] })),
    borderColor: colour(c.iteration),
    backgroundColor: colour(c.iteration),
    borderWidth: 1.5,
  };
}

/** One step of the iteration training now; a step at or before the last drawn is a resume's replay, so the tail goes. */
export function addLossPoint(iteration: number, step: number, loss: number) {
  if (!lossChart) return;
  const sets = lossChart.data.datasets;
  let set = sets.find((s) => s.label === lossLabel(iteration));
  if (!set) sets.push((set = lossDataset({ iteration, steps: [], losses: [] })));
  const pts = set.data;
  while (pts.length && pts[pts.length - 1].x >= step) pts.pop();
  pts.push({ x: step, y: Number.isFinite(loss) ? loss : null });
  // a long training is thinned as it grows, as the extension thins stored curves: pairs of points become their mean
  if (pts.length > 800) set.data = thinPairs(pts);
  redraw ||= window.setTimeout(() => { redraw = 0; lossChart?.update('none'); describeLoss(); }, 250);
}

function thinPairs(pts: { x: number; y: number | null }[]) {
  const out: { x: number; y: number | null }[] = [];
  for (let i = 0; i < pts.length; i += 2) {
    const pair = pts.slice(i, i + 2);
    const ys = pair.map((p) => p.y).filter((y): y is number => y !== null);
    out.push({ x: pair[pair.length - 1].x, y: ys.length ? ys.reduce((a, b) => a + b, 0) / ys.length : null });
  }
  return out;
}
