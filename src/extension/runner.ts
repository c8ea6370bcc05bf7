// Starts the run worker (a child process), relays its events, and stops or kills it. While a run is on, it also
// measures the extension host's worst event-loop stall: the proof that training does not block the editor.
import { ChildProcess, fork } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { monitorEventLoopDelay } from 'perf_hooks';
import * as vscode from 'vscode';
import type { RunEvent, RunStatus } from '../engine/store/format';
import type { FromWorker, ToWorker, WorkerRunOptions } from './workerProtocol';

export interface RunRequest {
  projectDir: string;
  options: WorkerRunOptions;
}

export interface RunResult {
  status: RunStatus | 'killed';
  runDir?: string;
  error?: string;
  /** The engine's code for the error, e.g. `inputs-changed`. */
  errorCode?: string;
  iterations: number;
  /** Worst extension-host event-loop delay while the run was on, in ms. */
  maxStallMs: number;
  workerPid: number;
}

export class Runner implements vscode.Disposable {
  private child?: ChildProcess;
  private stopFile = '';
  private readonly events = new vscode.EventEmitter<RunEvent>();
  private readonly states = new vscode.EventEmitter<boolean>();
  readonly onEvent = this.events.event;
  readonly onDidChangeRunning = this.states.event;
  lastResult?: RunResult;

  constructor(private readonly workerPath: string, private readonly log: vscode.LogOutputChannel) {}

  get running(): boolean {
    return !!this.child;
  }

  get workerPid(): number | undefined {
    return this.child?.pid;
  }

  start(req: RunRequest): Promise<RunResult> {
    if (this.child) return Promise.reject(new Error('a STaR run is already going on'));
    const child = fork(this.workerPath, [], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], execArgv: [] });
    this.child = child;
    this.stopFile = path.join(os.tmpdir(), `star-stop-${process.pid}-${child.pid}`);
    const stopFile = this.stopFile;
    this.states.fire(true);
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    let runDir: string | undefined;
    let status: RunResult['status'] = 'killed';
    let error: string | undefined;
    let errorCode: string | undefined;
    let iterations = 0;
    child.stdout?.on('data', (d: Buffer) => this.log.debug(`[worker] ${d.toString().trimEnd()}`));
    child.stderr?.on('data', (d: Buffer) => this.log.warn(`[worker] ${d.toString().trimEnd()}`));
    child.on('message', (m: FromWorker) => {
      if (m.type === 'event') {
        const e = m.event;
        if (e.type === 'run-start') runDir = e.runDir;
        if (e.type === 'run-end') ({ status, iterations } = e), (error = e.error);
        this.logEvent(e);
        this.events.fire(e);
      } else if (m.type === 'done') runDir = m.runDir;
      else if (m.type === 'error') ({ message: error, code: errorCode } = m);
    });
    return new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        delay.disable();
        fs.rmSync(stopFile, { force: true });
        if (status === 'killed' && error) status = 'failed';
        if (status === 'killed') this.log.warn(`worker exited (${signal ?? code}) before the run ended; Resume continues it`);
        const maxStallMs = delay.max / 1e6;
        this.log.info(`worst extension-host event-loop stall during the run: ${maxStallMs.toFixed(1)} ms`);
        this.lastResult = { status, runDir, error, errorCode, iterations, maxStallMs, workerPid: child.pid ?? -1 };
        this.child = undefined;
        this.states.fire(false);
        resolve(this.lastResult);
      });
      this.send({ type: 'start', projectDir: req.projectDir, options: req.options, stopFile });
    });
  }

  /** Asks the engine to stop at its next check; what is finished stays, and Resume continues. */
  stop(): void {
    if (this.child) {
      this.log.info('stop requested: the run stops after the current step');
      this.send({ type: 'stop' });
      fs.writeFileSync(this.stopFile, '');
    }
  }

  /** Kills the worker outright (as a crash would); the run stays resumable. */
  kill(): void {
    this.child?.kill('SIGKILL');
  }

  dispose(): void {
    this.stop();
    const child = this.child;
    if (child) setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    this.events.dispose();
    this.states.dispose();
  }

  private send(m: ToWorker) {
    if (this.child?.connected) this.child.send(m);
  }

  private logEvent(e: RunEvent) {
    if (e.type === 'progress') return this.log.trace(`iteration ${e.iteration} ${e.phase} ${e.done}/${e.total}`);
    if (e.type === 'log') return e.level === 'warn' ? this.log.warn(e.message) : this.log.info(e.message);
    if (e.type === 'iteration-end')
      return this.log.info(`iteration ${e.iteration}: eval ${(100 * e.metrics.eval.accuracy).toFixed(1)}%, direct ${e.metrics.train.correct}, rationalized ${e.metrics.train.rationalized}, failed ${e.metrics.train.failed}`);
    this.log.info(JSON.stringify(e));
  }
}
