// The run worker: a child process that runs the STaR loop, so training never blocks the extension host's thread.
// It streams every RunEvent to its parent; a stop request (message or stop file) makes the engine stop at its next
// check, keeping finished work. Killed outright, it leaves a run that Resume continues.
import * as fs from 'fs';
import { openProject } from '../engine/project';
import { runStar } from '../engine/star';
import type { FromWorker, ToWorker, WorkerRunOptions } from './workerProtocol';

let stopRequested = false;
let stopFile = '';
const shouldStop = () => stopRequested || (stopFile !== '' && fs.existsSync(stopFile));

const send = (m: FromWorker) =>
  new Promise<void>((resolve) => (process.connected ? process.send!(m, () => resolve()) : resolve()));

async function start(projectDir: string, o: WorkerRunOptions) {
  const project = await openProject(projectDir);
  // Sampling settings apply to new runs only: a resumed run keeps the config it was started with. Honouring
  // annotations is passed through: it applies to the training sets still to come, in new and resumed runs alike.
  if (o.sampling) project.config.sampling = { ...project.config.sampling, ...o.sampling };
  const { sampling: _s, ...opts } = o;
  const store = await runStar(project, { ...opts, shouldStop }, (event) => void send({ type: 'event', event }));
  await send({ type: 'done', runDir: store.dir, status: store.readRun().status });
}

process.on('message', (m: ToWorker) => {
  if (m.type === 'stop') stopRequested = true;
  if (m.type === 'start') {
    stopFile = m.stopFile;
    start(m.projectDir, m.options).then(
      () => process.exit(0),
      async (e: Error & { code?: unknown }) => {
        await send({ type: 'error', message: e.message, ...(typeof e.code === 'string' ? { code: e.code } : {}) });
        process.exit(1);
      },
    );
  }
});
// The parent is gone (window closed): stop cleanly rather than train for nobody.
process.on('disconnect', () => { stopRequested = true; });
