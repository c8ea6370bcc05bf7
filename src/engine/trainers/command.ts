// The `command` trainer: runs a user-given command template — TRL, Axolotl, torchtune... launched with torchrun or
// accelerate across GPUs — on the iteration's training set, then points generation at what it made (e.g. a LoRA
// adapter the command loaded into vLLM under {name}). Its output goes to iter-<n>/trainer.log; a failure throws a
// TrainerFailed naming the exit code and the last lines, and leaves the iteration without a model.json, so
// `star run --resume` trains again.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { readRemoteModel, writeRemoteModel } from '../generators/openai';
import { StopRequested } from '../model/train';
import type { TrainerSpec } from '../store/format';
import { TrainJob, Trainer } from './trainer';

export type CommandTrainerSpec = Extract<TrainerSpec, { kind: 'command' }>;

export class TrainerFailed extends Error {}

/** POSIX shell quoting of one word. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Substitutes {placeholders}; unknown ones are left as they are (a shell `${VAR}` is not touched either). */
export function fillTemplate(template: string, vars: Record<string, string>, quote: boolean): string {
  return template.replace(/(?<!\$)\{(\w+)\}/g, (m, k: string) => (k in vars ? (quote ? shellQuote(vars[k]) : vars[k]) : m));
}

export class CommandTrainer implements Trainer {
  constructor(private readonly spec: CommandTrainerSpec) {}

  async train(job: TrainJob): Promise<{ loss: number | null; steps: number }> {
    const base = readRemoteModel(job.baseDir);
    const out = path.join(job.outDir, 'trained');
    fs.mkdirSync(out, { recursive: true });
    const trainFile = job.trainFile ?? path.join(job.outDir, 'train.jsonl');
    const trainChat = path.join(job.outDir, 'train-chat.jsonl');
    fs.writeFileSync(trainChat, job.examples.map((e) => JSON.stringify({
      messages: [{ role: 'user', content: e.prompt }, { role: 'assistant', content: e.completion }],
    }) + '\n').join(''));
    const n = job.iteration ?? 0;
    const name = `star-${job.runId ?? 'run'}-iter-${n}`.replace(/[^A-Za-z0-9_.-]/g, '-');
    const vars: Record<string, string> = {
      train: trainFile, trainChat, base: base?.model ?? job.baseDir, baseDir: job.baseDir, out, name,
      iteration: String(n), steps: String(job.steps), seed: String(job.seed), run: job.runId ?? '', project: job.projectDir ?? process.cwd(),
    };
    const command = fillTemplate(this.spec.command, vars, true);
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const [k, v] of Object.entries(vars)) env[`STAR_${k.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase()}`] = v;
    job.log?.(`trainer: ${command}`);
    const logFile = path.join(job.outDir, 'trainer.log');
    const { code, signal, tail, stopped, timedOut } = await run(command, job.projectDir ?? process.cwd(), env, logFile, job.shouldStop, this.spec.timeoutSeconds ?? 0);
    if (stopped) throw new StopRequested();
    if (code !== 0) {
      const why = timedOut ? `was killed after ${this.spec.timeoutSeconds} s (trainer.timeoutSeconds)` : signal ? `was killed by ${signal}` : `exited with code ${code}`;
      throw new TrainerFailed(
        `the trainer command of iteration ${n} ${why}.\n  command: ${command}\n  last lines of its output (all in ${logFile}):\n` +
          tail.map((l) => `    ${l}`).join('\n') +
          `\n  Nothing of iteration ${n}'s training was kept; fix the command ("trainer.command" in star.json) and continue with \`star run --resume\`.`,
      );
    }
    // What generation uses next: the command's own word ({out}/star-model.json), else the model template.
    let model = fillTemplate(this.spec.model ?? '{name}', vars, false);
    let loss: number | null = null;
    const said = path.join(out, 'star-model.json');
    if (fs.existsSync(said)) {
      const j = JSON.parse(fs.readFileSync(said, 'utf8')) as { model?: string; loss?: number };
      if (j.model) model = j.model;
      if (typeof j.loss === 'number') loss = j.loss;
    }
    writeRemoteModel(job.outDir, { architecture: 'remote', backend: 'openai', model, revision: `${name}@${new Date().toISOString()}`, source: 'trainer-command' });
    return { loss, steps: job.steps };
  }
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  tail: string[];
  stopped: boolean;
  timedOut: boolean;
}

/** Runs a shell command in its own process group, teeing its output to a log and keeping the last lines. */
function run(command: string, cwd: string, env: NodeJS.ProcessEnv, logFile: string, shouldStop: (() => boolean) | undefined, timeoutSeconds: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const log = fs.openSync(logFile, 'a');
    fs.writeSync(log, `\n# ${new Date().toISOString()} ${command}\n`);
    const child = spawn('/bin/sh', ['-c', command], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    let partial = '';
    const onData = (d: Buffer) => {
      fs.writeSync(log, d);
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop() ?? '';
      tail.push(...lines);
      if (tail.length > 20) tail.splice(0, tail.length - 20);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    let stopped = false;
    let timedOut = false;
    const kill = () => {
      try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* gone */ }
      setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 5000).unref();
    };
    const poll = setInterval(() => { if (!stopped && shouldStop?.()) { stopped = true; kill(); } }, 200);
    const timer = timeoutSeconds > 0 ? setTimeout(() => { timedOut = true; kill(); }, timeoutSeconds * 1000) : undefined;
    child.on('error', (e) => { clearInterval(poll); if (timer) clearTimeout(timer); fs.closeSync(log); reject(e); });
    child.on('close', (code, signal) => {
      clearInterval(poll);
      if (timer) clearTimeout(timer);
      if (partial) tail.push(partial);
      fs.closeSync(log);
      resolve({ code, signal, tail: tail.slice(-20), stopped, timedOut });
    });
  });
}
