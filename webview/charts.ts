// Accuracy per iteration (train and held-out) and held-out accuracy per group, drawn with Chart.js in the theme's
// chart colours.
import { CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, PointElement, Title, Tooltip } from 'chart.js';
import type { ReportData } from '../src/protocol';

Chart.register(LineController, LineElement, PointElement, CategoryScale, LinearScale, Legend, Title, Tooltip);

const charts: Chart[] = [];
const css = (name: string, fallback: string) => getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
const PALETTE = ['--vscode-charts-blue', '--vscode-charts-green', '--vscode-charts-orange', '--vscode-charts-purple', '--vscode-charts-red', '--vscode-charts-yellow'];
const colour = (i: number) => css(PALETTE[i % PALETTE.length], ['#3794ff', '#89d185', '#d18616', '#b180d7', '#f14c4c', '#cca700'][i % 6]);

export function drawCharts(perIteration: HTMLCanvasElement, perGroup: HTMLCanvasElement, d: ReportData) {
  charts.splice(0).forEach((c) => c.destroy());
  const fg = css('--vscode-foreground', '#ccc');
  Chart.defaults.color = fg;
  Chart.defaults.borderColor = css('--vscode-panel-border', '#444');
  const labels = d.iterations.map((s) => String(s.iteration));
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
        { label: 'held-out (eval)', data: d.iterations.map((s) => pct(s.evalAccuracy)), borderColor: colour(0), backgroundColor: colour(0) },
        { label: 'train (direct + rationalized)', data: d.iterations.map((s) => pct(s.trainAccuracy)), borderColor: colour(1), backgroundColor: colour(1) },
        { label: 'train (direct only)', data: d.iterations.map((s) => (s.iteration === 0 || !s.train.total ? null : pct(s.train.direct / s.train.total))), borderColor: colour(2), backgroundColor: colour(2), borderDash: [4, 4] },
      ],
    },
    options: options('Accuracy per iteration'),
  }));
  const groups = [...new Set(d.iterations.flatMap((s) => Object.keys(s.byGroup)))].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  charts.push(new Chart(perGroup, {
    type: 'line',
    data: {
      labels,
      datasets: groups.map((g, i) => ({ label: `group ${g}`, data: d.iterations.map((s) => pct(s.byGroup[g] ?? null)), borderColor: colour(i), backgroundColor: colour(i) })),
    },
    options: options('Held-out accuracy per group'),
  }));
}
