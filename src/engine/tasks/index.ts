// Task lookup by name, for the CLI and the config file.
import { arithmetic } from './arithmetic';
import { gsm8k } from './gsm8k';
import { multipleChoice } from './multipleChoice';
import { Task, TaskName, TASK_NAMES } from './task';

const TASKS: Record<TaskName, Task> = { arithmetic, gsm8k, 'multiple-choice': multipleChoice };

/** The task of that name; throws (listing the valid names) for a name that came from user input and is wrong. */
export function getTask(name: TaskName): Task {
  const task = (TASKS as Record<string, Task | undefined>)[name];
  if (!task) throw new Error(`unknown task "${name}" (expected one of: ${TASK_NAMES.join(', ')})`);
  return task;
}

export { arithmetic, gsm8k, multipleChoice };
